/* SPDX-License-Identifier: MIT */
#include "cli.h"

/* placeholder until the platform module lands */
int cmd_platform(int argc, char **argv) {
        return cli_usage_error("platform", "not built yet");
}
