/* SPDX-License-Identifier: MIT */
#ifndef XARCH_FILE_H
#define XARCH_FILE_H

/* placeholder: filled in by the file module */

#endif
