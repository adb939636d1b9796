/* SPDX-License-Identifier: MIT */
#include "cli.h"

/* placeholder until the doctor module lands */
int cmd_doctor(int argc, char **argv) {
        return cli_usage_error("doctor", "not built yet");
}
