/* SPDX-License-Identifier: MIT */
#include "cli.h"

/* placeholder until the file module lands */
int cmd_file(int argc, char **argv) {
        return cli_usage_error("file", "not built yet");
}
