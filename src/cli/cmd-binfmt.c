/* SPDX-License-Identifier: MIT */
#include "cli.h"

/* placeholder until the binfmt module lands */
int cmd_binfmt(int argc, char **argv) {
        return cli_usage_error("binfmt", "not built yet");
}
