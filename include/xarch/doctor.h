/* SPDX-License-Identifier: MIT */
#ifndef XARCH_DOCTOR_H
#define XARCH_DOCTOR_H

/* placeholder: filled in by the doctor module */

#endif
