/* SPDX-License-Identifier: MIT */
/* placeholder: filled in by its module */
#include "xarch/xarch.h"
