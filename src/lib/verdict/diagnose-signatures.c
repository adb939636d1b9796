/* SPDX-License-Identifier: MIT */
/*
 * The failure signatures xarch diagnose knows, with the exact texts from failures.md §1-§3 and
 * from runs on real systems (tests/logs/). Each pattern has a literal anchor for the prefilter;
 * the pattern itself then decides and captures variables (see diagnose-internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verdict/diagnose-internal.h"
#include "macro.h"
#include "xarch/binfmt.h"

static void set_str(struct diag_vars *vars, const char *name, const char *value) {
        diag_vars_set(vars, name, value, strlen(value));
}

/* "aarch64-static" (from "qemu-aarch64-static:") -> emulator qemu-aarch64, arch arm64. */
static bool derive_emulator(struct diag_vars *vars) {
        const char *emu = diag_vars_get(vars, "_qemu");
        if (!emu)
                return true;
        char name[DIAG_VALUE_MAX];
        snprintf(name, sizeof(name), "%s", emu);
        size_t n = strlen(name);
        if (n > 7 && streq(name + n - 7, "-static"))
                name[n - 7] = '\0';
        char emulator[DIAG_VALUE_MAX + 8];
        snprintf(emulator, sizeof(emulator), "qemu-%s", name);
        set_str(vars, "emulator", emulator);
        /* "qemu-img: Could not open 'disk.qcow2'" is not an emulator speaking */
        const struct xarch_binfmt_target *t = xarch_binfmt_target_lookup(name);
        if (!t)
                return false;
        set_str(vars, "arch", t->oci_arch ? t->oci_arch : name);
        return true;
}

/* "linux/arm64/v8" -> arch arm64; likewise host_platform -> host_arch. */
static void derive_arch_from(struct diag_vars *vars, const char *from, const char *to) {
        const char *platform = diag_vars_get(vars, from);
        if (!platform || diag_vars_get(vars, to))
                return;
        const char *arch = strchr(platform, '/');
        arch = arch ? arch + 1 : platform;
        size_t len = strcspn(arch, "/");
        if (len > 0)
                diag_vars_set(vars, to, arch, len);
}

static bool derive_platforms(struct diag_vars *vars) {
        derive_arch_from(vars, "platform", "arch");
        derive_arch_from(vars, "host_platform", "host_arch");
        return true;
}

/* The platform a pull asked for is the node's, not the image's: kept apart from "arch". */
static bool derive_wanted(struct diag_vars *vars) {
        derive_arch_from(vars, "platform", "wanted_arch");
        return true;
}

static bool derive_go_runtime(struct diag_vars *vars) {
        const char *form = diag_vars_get(vars, "_form");
        if (!form)
                return true;
        if (streq(form, "taggedPointerPack")) {
                set_str(vars, "go_runtime", "go1.25.0-go1.25.3");
                diag_vars_set_text(vars, "_go_note",
                                "The taggedPointerPack text dates the binary's runtime to Go "
                                "1.25.0-1.25.3.");
        } else {
                set_str(vars, "go_runtime", "older than go1.25.4");
                diag_vars_set_text(vars, "_go_note",
                                "The lfstack.push text dates the binary's runtime to before Go "
                                "1.25; every such release is affected.");
        }
        return true;
}

static bool derive_signal(struct diag_vars *vars) {
        const char *sig = diag_vars_get(vars, "signal");
        int n = sig ? atoi(sig) : 0;
        if (n == 4) {
                diag_vars_set_text(vars, "_signal_cause",
                                "SIGILL: the guest executed an instruction that the emulated CPU "
                                "model lacks or that this QEMU cannot decode (a binary built for a "
                                "newer CPU level than the one emulated, e.g. ARMv7 code under an "
                                "ARMv6 CPU model, or Node.js/npm on some QEMU versions).");
                diag_vars_set_text(vars, "_signal_fix",
                                "Give QEMU a CPU model that has the instruction: QEMU_CPU=max (or "
                                "-cpu max; tonistiigi/binfmt makes it the default), use a newer "
                                "QEMU (`xarch doctor` shows the version), or build for the "
                                "platform's baseline (GOARM=6 or -march=armv6 for linux/arm/v6, "
                                "GOAMD64=v1 for amd64).");
        } else if (n == 11 || n == 7) {
                diag_vars_set_text(vars, "_signal_cause",
                                "SIGSEGV/SIGBUS in the guest, re-raised by QEMU: a bug in the "
                                "program or, often, in QEMU's emulation (ldconfig of ubuntu:22.04 "
                                "arm64 under QEMU 9.x/10.1, JITs such as the JVM or V8).");
                diag_vars_set_text(vars, "_signal_fix",
                                "Try another QEMU version (upgrade, or pin the last one that "
                                "worked), and avoid emulated steps: cross-compile in a native "
                                "build stage (`FROM --platform=$BUILDPLATFORM`, then GOARCH= / "
                                "TARGETARCH) or build on a native node of that architecture.");
        } else {
                diag_vars_set_text(vars, "_signal_cause",
                                "The emulated program was killed by this signal; QEMU re-raised "
                                "it (the shell then reports 128+N).");
                diag_vars_set_text(vars, "_signal_fix",
                                "Run the same image natively to tell a program bug from an "
                                "emulation bug; if only the emulated run fails, try another QEMU "
                                "version or QEMU_CPU=max, or build for the host's architecture.");
        }
        return true;
}

static bool derive_level(struct diag_vars *vars) {
        const char *level = diag_vars_get(vars, "level");
        if (level && level[0] == 'v') {
                char full[DIAG_VALUE_MAX + 8];
                snprintf(full, sizeof(full), "x86-64-%s", level);
                set_str(vars, "_level", full);
        }
        return true;
}

/* The table is text for people to read and review against failures.md: kept out of
 * clang-format, which would split every sentence at a different place. */
/* clang-format off */
const struct diag_signature diag_signatures[] = {
{
        .id = "go-lfstack-qemu",
        .title = "Go amd64 runtime crash under QEMU on an arm64 host (invalid packing)",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "An amd64 (x86-64) Go binary runs under QEMU user-mode emulation on an arm64 "
                 "host. The arm64 kernel hands out addresses above 2^47, which the amd64 Go "
                 "runtime cannot pack into its tagged pointers (it unpacks them sign-extended), "
                 "so the runtime throws at its first garbage collection or netpoll registration. "
                 "{_go_note|}",
        .fix = "Don't run the amd64 build emulated: build for arm64 natively (`FROM "
               "--platform=$BUILDPLATFORM golang` and `GOOS=linux GOARCH=arm64 go build`, "
               "published with `docker buildx build --platform linux/amd64,linux/arm64`), or "
               "rebuild the amd64 binary with Go >= 1.25.4 (the runtime fix), or keep the pod on "
               "amd64 nodes (nodeSelector `kubernetes.io/arch: amd64`). Stopgap for short-lived "
               "tools: GOGC=off.",
        .patterns = {
                { "lfstack.push invalid packing", "{_form=lfstack.push} invalid packing" },
                { "fatal error: lfstack.push", "fatal error: {_form=lfstack.push}" },
                { "taggedPointerPack invalid packing",
                  "{_form=taggedPointerPack} invalid packing" },
                { "fatal error: taggedPointerPack", "fatal error: {_form=taggedPointerPack}" },
        },
        .derive = derive_go_runtime,
},
{
        .id = "exec-format-error",
        .title = "Exec format error: no binfmt_misc handler for a foreign binary",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The kernel could not run {program|the program}: it is a binary for another "
                 "architecture (or a format this kernel does not know) and no binfmt_misc "
                 "handler matched it: no emulator registered, the entry or binfmt_misc disabled, "
                 "or a private user-namespace instance that hides the host's entries.",
        .fix = "See what it is: `xarch file {program|PROG}`. Then register an emulator for it: "
               "`xarch binfmt install {arch|ARCH}` (`xarch doctor` shows what this host runs), "
               "or use a build for this host's architecture.",
        .patterns = {
                { "cannot execute binary file", "{program:path}: cannot execute binary file" },
                { "xec format error", "fork/exec {program:path}: exec format error" },
                { "xec format error", "[Errno 8] Exec format error: '{program:path}'" },
                { "xec format error", "{program:path}: Exec format error" },
        },
        .derive = derive_platforms,
},
{
        .id = "container-exec-format-error",
        .title = "Container start failed with exec format error: image built for another "
                 "architecture",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The container's entrypoint {program|} is a binary for another architecture "
                 "than the node: the image has no build for this platform (or is mislabelled: "
                 "its manifest says this platform but the binary inside is another), and no "
                 "emulator is registered for it. In Kubernetes the pod goes to CrashLoopBackOff.",
        .fix = "Check the image: `xarch verify IMAGE` (labels against real binaries) and `xarch "
               "check IMAGE --node ARCH`. Publish a build for this platform (`docker buildx "
               "build --platform linux/amd64,linux/arm64 --push`, cross-compiling with `FROM "
               "--platform=$BUILDPLATFORM` and GOARCH=), or keep the pod on nodes of the image's "
               "architecture (nodeSelector `kubernetes.io/arch: {arch|ARCH}`), or register an "
               "emulator on the node: `xarch binfmt install {arch|ARCH}`.",
        .patterns = {
                { "user process caused", "exec user process caused: exec format error" },
                { "user process caused", "exec user process caused \"exec format error\"" },
                { "xec format error", "exec container process `{program:path}`: Exec format error" },
                { "xec format error", "exec: \"{program:path}\": exec format error" },
                { "xec format error", "|exec {program:path}: exec format error" },
        },
        .derive = derive_platforms,
},
{
        .id = "exec-required-file-not-found",
        .title = "Program found but not startable: missing ELF loader, or binfmt interpreter "
                 "missing (no F flag)",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The kernel found {program|the program} but not a file it needs to start it. "
                 "Either the binary's dynamic loader (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2 "
                 "or /lib/ld-musl-*.so.1) is missing: a glibc binary on a musl image, a dynamic "
                 "binary in a scratch image, a binary for another architecture's library layout. "
                 "Or, for a foreign binary, binfmt_misc matched a QEMU handler registered without "
                 "the F flag whose interpreter path does not exist in this mount namespace or "
                 "container root filesystem.",
        .fix = "Run `xarch file {program|PROG}`: it shows the architecture and the loader. Same "
               "architecture: add that loader (the right libc) to the image, or link statically "
               "(CGO_ENABLED=0, -static). Foreign architecture: register the emulator with the F "
               "flag, which keeps working inside containers: `xarch binfmt install {arch|ARCH}`.",
        .patterns = {
                { "required file not found",
                  "{program:path}: cannot execute: required file not found" },
                { "user process caused", "exec user process caused: no such file or directory" },
                { "user process caused",
                  "exec user process caused \"no such file or directory\"" },
                { "exec container process",
                  "exec container process `{program:path}`: No such file or directory" },
                { "failed to run command",
                  "failed to run command '{program:path}': No such file or directory" },
                { "failed to run command",
                  "failed to run command \u2018{program:text}\u2019: No such file or directory" },
                { "no such file or directory",
                  "exec: \"{program:path}\": stat {:path}: no such file or directory" },
                { "no such file or directory", "|exec {program:path}: no such file or directory" },
        },
        .derive = derive_platforms,
},
{
        .id = "qemu-loader-missing",
        .title = "QEMU could not open the guest's dynamic loader",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "{emulator|QEMU} ran a dynamically linked {arch|foreign} binary outside a root "
                 "filesystem of that architecture, so the guest's loader {loader|} is missing "
                 "(QEMU looks it up in the host's /).",
        .fix = "Run it inside a container or chroot of that architecture (`docker run "
               "--platform linux/{arch|ARCH} ...`), point QEMU at a sysroot of that architecture "
               "(`{emulator|qemu-ARCH} -L DIR` or QEMU_LD_PREFIX=DIR), or link the program "
               "statically.",
        .patterns = {
                { "Could not open '", "qemu-{_qemu:word}: Could not open '{loader:path}'" },
        },
        .derive = derive_emulator,
},
{
        .id = "rosetta-loader-missing",
        .title = "Rosetta could not open the amd64 dynamic loader",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "Rosetta (Apple's amd64 translator in a Linux VM) ran a dynamically linked "
                 "amd64 binary outside an amd64 root filesystem, so the amd64 loader "
                 "{loader|/lib64/ld-linux-x86-64.so.2} is missing.",
        .fix = "Run it inside an amd64 container whose image has the loader (`docker run "
               "--platform linux/amd64 ...`), or link it statically; for native speed use an "
               "arm64 build.",
        .patterns = {
                { "rosetta error: failed to open elf",
                  "rosetta error: failed to open elf at {loader:path}" },
                { "rosetta error: failed to open elf", "rosetta error: failed to open elf" },
        },
},
{
        .id = "qemu-uncaught-signal",
        .title = "Emulated program killed by a signal under QEMU",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "QEMU reports signal {signal|N} ({signal_name|?}) in the guest. {_signal_cause|}",
        .fix = "{_signal_fix|}",
        .patterns = {
                { "uncaught target signal",
                  "uncaught target signal {signal:int} ({signal_name:text})" },
                { "uncaught target signal", "uncaught target signal {signal:int}" },
        },
        .derive = derive_signal,
},
{
        .id = "qemu-invalid-elf",
        .title = "QEMU given a binary of another architecture (Invalid ELF image)",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "{emulator|QEMU} was given {program|a binary} that is not an ELF file of its "
                 "architecture ({arch|?}): the wrong emulator was invoked by hand, or an "
                 "overlapping binfmt_misc magic/mask hands this binary to the wrong QEMU.",
        .fix = "See what the binary is with `xarch file {program|PROG}` and use the matching "
               "emulator; check the registered handlers with `xarch binfmt status` and replace a "
               "wrong one (`xarch binfmt install ARCH --force`).",
        .patterns = {
                { "Invalid ELF image",
                  "qemu-{_qemu:word}: {program:path}: Invalid ELF image for this architecture" },
                { "Invalid ELF image", "Invalid ELF image for this architecture" },
        },
        .derive = derive_emulator,
},
{
        .id = "glibc-x86-64-level",
        .title = "glibc refuses to start: CPU below the x86-64 level of the userland",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The userland is built for {_level|a higher x86-64 level} (RHEL 9, UBI 9 and "
                 "others need x86-64-v2) but the CPU, or the CPU model of the VM or emulator, is "
                 "below it: QEMU's old qemu64/kvm64 models are x86-64-v1.",
        .fix = "On a VM give it a CPU model with {_level|that level} (host passthrough, or "
               "x86-64-v2-AES and newer); under QEMU user mode use QEMU >= 7.2 or QEMU_CPU=max; "
               "or use an image built for baseline amd64 (x86-64-v1). `xarch doctor` shows this "
               "host's level.",
        .patterns = {
                { "CPU does not support x86-64-", "CPU does not support x86-64-{level:word}" },
                { "CPU ISA level is lower than required", "CPU ISA level is lower than required" },
        },
        .derive = derive_level,
},
{
        .id = "go-amd64-level",
        .title = "Go amd64 binary needs a higher x86-64 microarchitecture level",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "A Go amd64 binary built with GOAMD64={level|vN} runs on a CPU below "
                 "{_level|that level}, or on a virtual or emulated CPU model such as kvm64/qemu64 "
                 "(x86-64-v1).",
        .fix = "Rebuild with `GOAMD64=v1` (Go's default), or run it on nodes whose CPUs have "
               "{_level|that level} (Node Feature Discovery labels the CPU features), or raise the "
               "VM's CPU model, or QEMU_CPU=max under QEMU.",
        .patterns = {
                { "microarchitecture support",
                  "can only be run on AMD64 processors with {level:word} microarchitecture "
                  "support" },
        },
        .derive = derive_level,
},
{
        .id = "manifest-platform-missing",
        .title = "The image index has no entry for the requested platform",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The image is a multi-platform index without an entry for {platform|the "
                 "platform asked for (the node's)}, so the runtime cannot pick a manifest. In "
                 "Kubernetes the pull fails and the pod goes to ImagePullBackOff.",
        .fix = "See which platforms it has: `xarch inspect {image|IMAGE}`. Publish the missing "
               "one (`docker buildx build --platform linux/amd64,linux/arm64 --push`, "
               "cross-compiling with `FROM --platform=$BUILDPLATFORM` and GOARCH=), or keep the "
               "pod on nodes of an architecture the image has (nodeSelector "
               "`kubernetes.io/arch: ARCH`). Tools that default to the host's platform need it "
               "named: `docker pull --platform linux/ARCH`, `skopeo --override-os linux "
               "--override-arch ARCH`.",
        .patterns = {
                { "no match for platform in manifest",
                  "Failed to pull image \"{image:image}\"*no match for platform in manifest "
                  "{digest:digest}" },
                { "no match for platform in manifest",
                  "Failed to pull image \"{image:image}\"*no match for platform in manifest" },
                { "no match for platform in manifest",
                  "no match for platform in manifest {digest:digest}" },
                { "no match for platform in manifest", "no match for platform in manifest" },
                { "no matching manifest for",
                  "no matching manifest for {platform:platform} in the manifest list entries" },
                { "no image found in",
                  "no image found in {:text} for architecture {wanted_arch:word}" },
                { "no image satisfies requested platform",
                  "no image satisfies requested platform: {platform:platform}" },
                { "no child with platform",
                  "no child with platform {platform:platform} in index" },
        },
        .derive = derive_wanted,
},
{
        .id = "image-platform-mismatch",
        .title = "Image platform does not match the host's: it runs only emulated",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The image was built for {arch|another architecture} but this host or node is "
                 "{host_arch|a different one}. It runs only if an emulator for {arch|it} is "
                 "registered, and then slowly (Go amd64 binaries crash under QEMU on arm64 "
                 "hosts); otherwise exec format error follows.",
        .fix = "Use the host's platform if the image has it (`--platform linux/{host_arch|ARCH}`; "
               "`xarch inspect IMAGE` lists them), publish a multi-platform image, or register an "
               "emulator: `xarch binfmt install {arch|ARCH}`.",
        .patterns = {
                { "does not match the expected platform",
                  "image platform (\\{{arch:word} {os:word}*does not match the expected platform "
                  "(\\{{host_arch:word} " },
                { "does not match the expected platform", "does not match the expected platform" },
                { "does not match the detected host platform",
                  "image's platform ({platform:platform}) does not match the detected host "
                  "platform ({host_platform:platform})" },
                { "does not match the specified platform",
                  "does not match the specified platform: wanted {host_platform:platform}, "
                  "actual: {platform:platform}" },
        },
        .derive = derive_platforms,
},
{
        .id = "binfmt-register-exists",
        .title = "binfmt_misc registration failed: the entry already exists",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "Writing a registration line to binfmt_misc failed with EEXIST: an entry of the "
                 "same name is already registered.",
        .fix = "Inspect it with `xarch binfmt status`; remove it first (`echo -1 > "
               "/proc/sys/fs/binfmt_misc/NAME`), or let xarch replace it: `xarch binfmt install "
               "ARCH --force`.",
        .patterns = {
                { "write error: File exists", "write error: File exists" },
                { "binfmt_misc/register: file exists", "binfmt_misc/register: file exists" },
        },
},
{
        .id = "binfmt-register-invalid",
        .title = "binfmt_misc registration rejected: invalid argument",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "The kernel rejected a binfmt_misc registration line (EINVAL): a malformed line, "
                 "a flag this kernel does not know (F needs Linux 4.8), or a mask whose length "
                 "differs from the magic's.",
        .fix = "Let xarch write the line: `xarch binfmt install ARCH --dry-run` prints it, "
               "`xarch binfmt install ARCH` registers it.",
        .patterns = {
                { "write error: Invalid argument", "write error: Invalid argument" },
                { "binfmt_misc/register: invalid argument",
                  "binfmt_misc/register: invalid argument" },
        },
},
{
        .id = "binfmt-mount-failed",
        .title = "binfmt_misc filesystem cannot be mounted",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "binfmt_misc could not be mounted: the module is not loaded or the kernel lacks "
                 "CONFIG_BINFMT_MISC (in a container, the mount may also be forbidden).",
        .fix = "`modprobe binfmt_misc` and `mount -t binfmt_misc binfmt_misc "
               "/proc/sys/fs/binfmt_misc` (`xarch binfmt install` mounts it when it can); "
               "otherwise use a kernel with CONFIG_BINFMT_MISC.",
        .patterns = {
                { "cannot mount binfmt_misc", "cannot mount binfmt_misc" },
                { "unknown filesystem type 'binfmt_misc'",
                  "unknown filesystem type 'binfmt_misc'" },
        },
},
{
        .id = "qemu-reserve-va",
        .title = "QEMU could not reserve its memory (guest address space, JIT buffer)",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "QEMU user mode could not reserve memory when starting ({size|?} bytes): the "
                 "guest's virtual address space (32-bit guests reserve 4 GiB up front) or its "
                 "translation (JIT) buffer.",
        .fix = "Raise or remove the virtual-memory limit (`ulimit -v unlimited`, or the "
               "container's or unit's address-space limit), check vm.mmap_min_addr, or make QEMU "
               "reserve less (`-R SIZE` / QEMU_RESERVED_VA).",
        .patterns = {
                { "Unable to reserve ",
                  "Unable to reserve {size:hex} bytes of virtual address space" },
                { "bytes for jit buffer", "allocate {size:int} bytes for jit buffer" },
        },
},
{
        .id = "emulation-syscall",
        .title = "System call not (or wrongly) emulated by QEMU",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .weak = true,
        .cause = "Next to the emulation failure above, a system call failed with ENOSYS or "
                 "EINVAL: QEMU user mode does not implement it, or implements it wrongly (openat2 "
                 "in a musl-built QEMU, newer syscalls in old QEMU).",
        .fix = "Use a newer QEMU (`xarch doctor` shows the version), or don't emulate this step: "
               "cross-compile in a native stage (`FROM --platform=$BUILDPLATFORM`).",
        .patterns = {
                { "Function not implemented", "Function not implemented" },
                { "Cannot mkdir: Invalid argument", "Cannot mkdir: Invalid argument" },
        },
},
{
        .id = "qemu-rcu-assertion",
        .title = "QEMU internal assertion (RCU reader depth)",
        .kind = XARCH_DIAGNOSE_FAILURE,
        .cause = "QEMU itself hit an internal assertion: a QEMU bug (seen with SQL Server amd64 "
                 "on a Raspberry Pi 5).",
        .fix = "Update QEMU (`xarch doctor` shows the version), or don't emulate: use an arm64 "
               "build of the image, or keep the pod on amd64 nodes (nodeSelector "
               "`kubernetes.io/arch: amd64`).",
        .patterns = {
                { "p_rcu_reader->depth != 0", "p_rcu_reader->depth != 0" },
        },
},
{
        .id = "k8s-crash-loop",
        .title = "Kubernetes: container restarting (CrashLoopBackOff)",
        .kind = XARCH_DIAGNOSE_CONTEXT,
        .cause = "Kubernetes restarts the container again and again because it exits at once; "
                 "the failure reported with it is the reason.",
        .fix = "Fix that failure; `kubectl logs --previous POD` shows the last run's output.",
        .patterns = {
                { "CrashLoopBackOff", "CrashLoopBackOff" },
                { "Back-off restarting failed container", "Back-off restarting failed container" },
        },
},
{
        .id = "k8s-image-pull-backoff",
        .title = "Kubernetes: image pull failing (ImagePullBackOff/ErrImagePull)",
        .kind = XARCH_DIAGNOSE_CONTEXT,
        .cause = "Kubernetes cannot pull the image and backs off; the failure reported with it is "
                 "the reason.",
        .fix = "Fix that failure; `kubectl describe pod POD` shows the pull error in its events.",
        .patterns = {
                { "ImagePullBackOff", "ImagePullBackOff" },
                { "Error: ErrImagePull", "Error: ErrImagePull" },
        },
},
};
/* clang-format on */

const size_t diag_n_signatures = ELEMENTSOF(diag_signatures);
