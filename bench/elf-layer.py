#!/usr/bin/env python3
"""Picks the real ELF files for the deep-verification benchmark layer: regular ELF files from
this Debian machine's programs and libraries (host amd64, the cross toolchains' arm64/armhf
libraries, Go's tools), each counted once (hard links), between 64 KiB and 32 MiB; sorted by
size and N taken evenly across that range, so the layer holds small and large files alike.

    elf-layer.py N TARGET_MB   prints the chosen paths, one a line, ending when N are chosen
                               or their sizes reach TARGET_MB (uncompressed)."""
import os
import sys

DIRS = ["/usr/bin", "/usr/sbin", "/usr/libexec", "/usr/lib/x86_64-linux-gnu", "/usr/lib/go-1.19",
        "/usr/lib/llvm-14", "/usr/aarch64-linux-gnu", "/usr/arm-linux-gnueabihf",
        "/usr/lib/gcc-cross", "/usr/lib/gcc", "/usr/lib/podman"]


def candidates():
    seen, out = set(), []
    for d in DIRS:
        for root, _, names in os.walk(d):
            for name in names:
                p = os.path.join(root, name)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not os.path.isfile(p) or os.path.islink(p) or (st.st_dev, st.st_ino) in seen:
                    continue
                if not 64 << 10 <= st.st_size <= 32 << 20:
                    continue
                try:
                    with open(p, "rb") as f:
                        if f.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                seen.add((st.st_dev, st.st_ino))
                out.append((st.st_size, p))
    return sorted(out)


def main():
    n, target = int(sys.argv[1]), int(sys.argv[2]) * 1000000
    c = candidates()
    if not c:
        sys.exit("no ELF files found")
    step = max(len(c) / n, 1.0)
    total = 0
    i = 0.0
    chosen = 0
    while int(i) < len(c) and chosen < n and total < target:
        size, p = c[int(i)]
        print(p)
        total += size
        chosen += 1
        i += step
    print(f"{chosen} files, {total / 1e6:.0f} MB", file=sys.stderr)


main()
