#!/bin/bash
# xarch build from real artifacts: Go binaries cross-compiled for amd64/arm64/arm/v7, Debian's
# foreign-architecture hello and libc6, a release-style tarball made here, and bases built by
# buildah. Independent readers check every result: skopeo inspects oci: layouts and archives,
# buildah starts containers from them, podman loads docker-archive files and runs the amd64
# image. Builds from copies of the inputs with other mtimes, in other directories, give the same
# digests. Wrong-architecture binaries, missing loaders and hostile archives are refused with
# one line and nothing written.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../images/lib.sh"
FX=$XARCH_FIXTURES

run_xarch build --help
expect_rc 0 "--help exits 0"
expect_out '--add-archive' "--help documents --add-archive"
run_xarch build --add /x:/y
expect_rc 2 "no --tag is a usage error"
expect_err "no destination" "and says so in one line"
run_xarch build --add nodest -t oci:$TMPD/x
expect_rc 2 "an --add without DEST is a usage error"
expect_err "SRC:DEST" "the --add error shows the form"
run_xarch build --compression lz4 -t oci:$TMPD/x
expect_rc 2 "an unknown compression is a usage error"
run_xarch build --add 'linux/frob=/x:/y' -t oci:$TMPD/x
expect_rc 2 "an unknown platform in --add is a usage error"
run_xarch build --platform linux/amd64 --add "linux/arm64=$TMPD:/y" -t "oci:$TMPD/x"
expect_rc 1 "an --add for a platform not being built fails"
expect_err "linux/arm64: that platform is not being built" "and names it"
run_xarch build --add "$TMPD/missing-{arch}:/x" --platform linux/arm64 -t "oci:$TMPD/x"
expect_rc 1 "a placeholder that expands to a missing file fails"
expect_err "missing-arm64: No such file" "the expanded name is in the message"
[ ! -e "$TMPD/x" ] && ok "nothing written after a failure" || not_ok "$TMPD/x exists"
run_xarch build --json --add "$TMPD/missing:/x" -t "oci:$TMPD/x"
expect_rc 1 "--json failure exits 1"
jq -e .error "$TMPD/out" >/dev/null && ok "--json failure prints a JSON error" || not_ok "no JSON error"

if [ ! -f "$FX/go/hello-arm-v7" ] || [ ! -f "$FX/debian/hello-arm64" ]; then
        skip "fixture binaries missing (tests/fixtures/make-fixtures.sh)"
        done_testing
        exit $?
fi

# --- three platforms from scratch ------------------------------------------------------------
three=(--platform linux/amd64,linux/arm64,linux/arm/v7
        --add "linux/amd64=$FX/go/hello-amd64:/usr/local/bin/hello"
        --add "linux/arm64=$FX/go/hello-arm64:/usr/local/bin/hello"
        --add "linux/arm/v7=$FX/go/hello-arm-v7:/usr/local/bin/hello"
        --entrypoint '["/usr/local/bin/hello"]' --label org.example=1 --expose 8080)
run_xarch build --json "${three[@]}" -t "oci:$TMPD/three:v1"
expect_rc 0 "three Go binaries from scratch build"
idx=$(jq -r .digest "$TMPD/out")
[ "$(jq -r '[.platforms[].platform] | join(",")' "$TMPD/out")" = "linux/amd64,linux/arm64,linux/arm/v7" ] &&
        ok "platforms in --platform order" || not_ok "platform order: $(cat "$TMPD/out")"
if command -v skopeo >/dev/null; then
        raw=$(skopeo inspect --raw "oci:$TMPD/three:v1")
        [ "sha256:$(printf %s "$raw" | sha256sum | cut -d' ' -f1)" = "$idx" ] &&
                ok "skopeo reads the index xarch reported" || not_ok "skopeo's index differs from $idx"
        for a in amd64 arm64; do
                got=$(skopeo inspect --override-arch $a "oci:$TMPD/three:v1" | jq -r '.Architecture + " " + .Labels["org.example"]')
                [ "$got" = "$a 1" ] && ok "skopeo: the $a image has its label" || not_ok "skopeo $a: $got"
        done
else
        skip "skopeo not installed"
fi
run_xarch verify "oci:$TMPD/three:v1"
expect_rc 0 "xarch verify finds the three platforms consistent"

# --- reproducibility: copies with other mtimes, in other directories --------------------------
mkdir -p "$TMPD/r1/in" "$TMPD/r2/deep/er/in"
for d in "$TMPD/r1/in" "$TMPD/r2/deep/er/in"; do
        mkdir -p "$d/app/bin" "$d/app/share"
        cp "$FX/go/hello-amd64" "$d/app/bin/hello-amd64"
        cp "$FX/go/hello-arm64" "$d/app/bin/hello-arm64"
        echo data >"$d/app/share/data.txt"
done
touch -d '2001-02-03 04:05:06' "$TMPD/r1/in/app/bin/hello-amd64" "$TMPD/r1/in/app/share/data.txt"
touch -d '2024-12-31 23:59:59' "$TMPD/r2/deep/er/in/app" "$TMPD/r2/deep/er/in/app/bin/hello-arm64"
repro() { # DIR OUT
        (cd "$1" && SOURCE_DATE_EPOCH=1700000000 "$XARCH" build --json --platform linux/amd64,linux/arm64 \
                --add 'app/bin/hello-{arch}:/app/hello' --add 'app/share:/app/share' \
                --entrypoint /app/hello -t "oci-archive:$2:v1") >"$2.json"
}
repro "$TMPD/r1/in" "$TMPD/r1/out.tar" && repro "$TMPD/r2/deep/er/in" "$TMPD/r2/out.tar" &&
        ok "the same build in two directories" || not_ok "reproducibility builds failed"
[ "$(jq -r .digest "$TMPD/r1/out.tar.json")" = "$(jq -r .digest "$TMPD/r2/out.tar.json")" ] &&
        ok "identical index digests" || not_ok "index digests differ"
cmp -s "$TMPD/r1/out.tar" "$TMPD/r2/out.tar" && ok "byte-identical oci-archive files" ||
        not_ok "the archives differ"
jq -e '.platforms[0].layer.digest != .platforms[1].layer.digest' "$TMPD/r1/out.tar.json" >/dev/null &&
        ok "each platform has its own layer" || not_ok "layers shared across platforms"
# one thread (XARCH_BUILD_THREADS=1) and two (the tar stage and the compressor overlapping,
# across many ring slots: the binaries are 2 MB each) write the same bytes, gzip and zstd
for c in gzip zstd:19; do
        same_bytes() { # THREADS OUT
                (cd "$TMPD/r1/in" && XARCH_BUILD_THREADS=$1 SOURCE_DATE_EPOCH=1700000000 "$XARCH" build \
                        --json --compression $c --platform linux/amd64,linux/arm64 \
                        --add 'app/bin/hello-{arch}:/app/hello' --add 'app/share:/app/share' \
                        --entrypoint /app/hello -t "oci-archive:$2:v1") >"$2.json"
        }
        f=${c/:/-} # no ':' in an archive's name
        if same_bytes 1 "$TMPD/t1-$f.tar" && same_bytes 2 "$TMPD/t2-$f.tar"; then
                cmp -s "$TMPD/t1-$f.tar" "$TMPD/t2-$f.tar" &&
                        [ "$(jq -r .digest "$TMPD/t1-$f.tar.json")" = "$(jq -r .digest "$TMPD/t2-$f.tar.json")" ] &&
                        ok "$c: one thread and two give byte-identical images" ||
                        not_ok "$c: one thread and two differ"
        else
                not_ok "$c: builds with one and two threads failed"
        fi
done
[ "$(jq -r .digest "$TMPD/t2-gzip.tar.json")" = "$(jq -r .digest "$TMPD/r1/out.tar.json")" ] &&
        ok "and the same digest as the default build" || not_ok "XARCH_BUILD_THREADS changed the digest"
# the same files for every platform make one layer, written once
run_xarch build --json --platform linux/amd64,linux/arm64 --add "$TMPD/r1/in/app/share:/app/share" \
        -t "oci:$TMPD/shared"
expect_rc 0 "a layer shared by two platforms"
jq -e '.platforms[0].layer.digest == .platforms[1].layer.digest and .written.blobs == 3' \
        "$TMPD/out" >/dev/null && ok "is written once (one layer and two configs)" ||
        not_ok "shared layer: $(jq -c '[.platforms[].layer.digest, .written]' "$TMPD/out")"
# layers that differ, in a dry run (as for a registry), are compressed at once: the same
# digests as one after the other, and as the oci: layout written above
run_xarch build --dry-run --json "${three[@]}" -t "oci:$TMPD/dry3"
together=$(jq -c '[.digest, [.platforms[].layer.digest]]' "$TMPD/out")
export XARCH_BUILD_THREADS=1
run_xarch build --dry-run --json "${three[@]}" -t "oci:$TMPD/dry3"
unset XARCH_BUILD_THREADS
[ "$together" = "$(jq -c '[.digest, [.platforms[].layer.digest]]' "$TMPD/out")" ] &&
        [ "$(jq -r .digest "$TMPD/out")" = "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$TMPD/three/index.json")" ] &&
        ok "three layers at once: the digests of one at a time and of the written image" ||
        not_ok "dry runs: $together vs $(jq -c '[.digest, [.platforms[].layer.digest]]' "$TMPD/out")"
# layers written at once that fail: the error is the first failing platform's, as one at a time.
# A sysfs attribute claims 4096 bytes and holds fewer, so its layer fails while being written.
short=
for f in /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/uevent_seqnum /sys/power/state; do
        if [ -r "$f" ] && [ "$(stat -L -c %s "$f")" -gt "$(wc -c <"$f")" ]; then short=$f; break; fi
done
if [ -n "$short" ]; then
        ln -s "$short" "$TMPD/short-amd64"
        ln -s "$short" "$TMPD/short-arm64"
        for threads in 2 1; do
                XARCH_BUILD_THREADS=$threads run_xarch build --dry-run "${three[@]}" \
                        --add "linux/amd64=$TMPD/short-amd64:/data/f" \
                        --add "linux/arm64=$TMPD/short-arm64:/data/f" -t "oci:$TMPD/dryfail"
                expect_rc 1 "two layers fail ($threads thread(s)): exit 1"
                expect_err "short-amd64: the file shrank" "and the error is the first platform's"
        done
        run_xarch build --dry-run "${three[@]}" --add "linux/arm64=$TMPD/short-arm64:/data/f" \
                -t "oci:$TMPD/dryfail"
        expect_err "short-arm64: the file shrank" "one layer fails: the error is its platform's"
else
        skip "no sysfs attribute shorter than its size"
fi
if command -v skopeo >/dev/null; then
        created=$(skopeo inspect --override-arch arm64 "oci-archive:$TMPD/r1/out.tar:v1" | jq -r .Created)
        [ "$created" = "2023-11-14T22:13:20Z" ] && ok "created comes from SOURCE_DATE_EPOCH" ||
                not_ok "created is $created"
fi
SOURCE_DATE_EPOCH=1700000000 run_xarch build --dry-run --json --platform linux/amd64,linux/arm64 \
        --add "$TMPD/r1/in/app/bin/hello-{arch}:/app/hello" --add "$TMPD/r1/in/app/share:/app/share" \
        --entrypoint /app/hello -t "oci:$TMPD/dry"
expect_rc 0 "--dry-run succeeds"
[ ! -e "$TMPD/dry" ] && ok "--dry-run writes nothing" || not_ok "--dry-run wrote $TMPD/dry"
[ "$(jq -r .platforms[0].layer.diff_id "$TMPD/out")" = "$(jq -r .platforms[0].layer.diff_id "$TMPD/r1/out.tar.json")" ] &&
        ok "--dry-run computes the same layer" || not_ok "--dry-run layer differs"

# --- checks before anything is written --------------------------------------------------------
run_xarch build --platform linux/amd64,linux/arm64 --add "$FX/go/hello-arm64:/hello" -t "oci:$TMPD/wrong"
expect_rc 1 "an arm64 binary in the amd64 image is refused"
expect_err "hello-arm64 \(/hello\) is ELF 64-bit LSB, linux/arm64.*linux/amd64 needs amd64" \
        "the error names the file, what it is and what the platform needs"
[ ! -e "$TMPD/wrong" ] && ok "nothing written for the wrong-arch build" || not_ok "$TMPD/wrong exists"
run_xarch build --platform linux/arm/v6 --add "$FX/go/hello-arm-v7:/hello" -t "oci:$TMPD/wrong"
expect_rc 1 "a GOARM=7 binary for linux/arm/v6 is refused"
expect_err "needs arm/v7; linux/arm/v6 allows arm/v6" "the variant is named"
if [ -f "$FX/c/hello-amd64-v3" ]; then
        run_xarch build --platform linux/amd64 --add "$FX/c/hello-amd64-v3:/hello" -t "oci:$TMPD/wrong"
        expect_rc 1 "an x86-64-v3 binary for linux/amd64 is refused"
        expect_err "needs x86-64-v3" "the level is named"
fi
run_xarch build --platform linux/arm64 --add "$FX/debian/hello-arm64:/usr/bin/hello" -t "oci:$TMPD/wrong"
expect_rc 1 "a dynamic arm64 binary without its loader is refused"
expect_err "loader /lib/ld-linux-aarch64.so.1 is not in the linux/arm64 image" "the loader is named"
run_xarch build --platform linux/amd64 --add "$FX/misc/macho-arm64:/hello" -t "oci:$TMPD/wrong"
expect_rc 1 "a Mach-O executable is refused"
run_xarch build --platform linux/amd64 --add "$FX/misc/hello.sh:/hello.sh" -t "oci:$TMPD/wrong"
expect_rc 1 "a script whose interpreter is missing is refused"
expect_err "#! interpreter /bin/sh" "the interpreter is named"
run_xarch build --platform linux/amd64 --add "$FX/go/hello-amd64:/hello" --cmd /nothere -t "oci:$TMPD/wrong"
expect_rc 1 "a command that is not in the image is refused"
expect_err "the command /nothere is not a program" "the command is named"
[ ! -e "$TMPD/wrong" ] && ok "nothing written by any refused build" || not_ok "$TMPD/wrong exists"
run_xarch build --platform linux/amd64 --add "$FX/go/hello-arm64:/firmware/blob" \
        --allow-foreign '/firmware/*' -t "oci:$TMPD/foreign"
expect_rc 0 "--allow-foreign lets a named file through"
if [ -d "$FX/debian/libc6-arm64/lib" ]; then
        run_xarch build --platform linux/arm64 --add "$FX/debian/libc6-arm64:/" \
                --add "$FX/debian/hello-arm64:/usr/bin/hello" --cmd hello -t "oci:$TMPD/dyn"
        expect_rc 0 "a dynamic arm64 binary with Debian's libc6 added alongside builds"
        run_xarch verify "oci:$TMPD/dyn"
        expect_rc 0 "and xarch verify finds its loader"
fi

# --- a release-style tarball, per platform -------------------------------------------------------
for a in amd64 arm64; do
        mkdir -p "$TMPD/rel/app-1.0/bin" "$TMPD/rel/app-1.0/lib"
        cp "$FX/go/hello-$a" "$TMPD/rel/app-1.0/bin/app"
        ln -sf ../bin/app "$TMPD/rel/app-1.0/lib/app-link"
        echo "config" >"$TMPD/rel/app-1.0/app.conf"
        tar -C "$TMPD/rel" -czf "$TMPD/app-1.0-linux-$a.tar.gz" app-1.0
        rm -rf "$TMPD/rel"
done
run_xarch build --json --platform linux/amd64,linux/arm64 \
        --add-archive "$TMPD/app-1.0-linux-{arch}.tar.gz:/opt/app" --strip-components 1 \
        --entrypoint /opt/app/bin/app -t "oci:$TMPD/rel.oci:1.0"
expect_rc 0 "a release tarball per architecture builds"
jq -e '.platforms[0].layer.entries == 7' "$TMPD/out" >/dev/null &&
        ok "the layer holds opt, opt/app and the 5 members" || not_ok "entries: $(jq .platforms[0].layer.entries "$TMPD/out")"
run_xarch verify "oci:$TMPD/rel.oci:1.0"
expect_rc 0 "xarch verify: each platform runs its own binary"
cp "$TMPD/app-1.0-linux-arm64.tar.gz" "$TMPD/app-1.0-linux-amd64.tar.gz"
run_xarch build --platform linux/amd64,linux/arm64 \
        --add-archive "$TMPD/app-1.0-linux-{arch}.tar.gz:/opt/app" --strip-components 1 \
        -t "oci:$TMPD/rel-wrong"
expect_rc 1 "an arm64 tarball for amd64 is refused"
expect_err "app-1.0-linux-amd64.tar.gz:app-1.0/bin/app \(/opt/app/bin/app\) is ELF 64-bit LSB, linux/arm64" \
        "the member is named"

# --- hostile archives ----------------------------------------------------------------------------
python3 - "$TMPD" <<'PY'
import io, sys, tarfile
d = sys.argv[1]
def mk(name, members):
    with tarfile.open(f"{d}/{name}", "w", format=tarfile.USTAR_FORMAT) as t:
        for m in members:
            ti = tarfile.TarInfo(m[1])
            if m[0] == "f":
                ti.size = 2
                t.addfile(ti, io.BytesIO(b"x\n"))
            elif m[0] == "l":
                ti.type = tarfile.SYMTYPE; ti.linkname = m[2]; t.addfile(ti)
            elif m[0] == "c":
                ti.type = tarfile.CHRTYPE; ti.devmajor = 1; ti.devminor = 3; t.addfile(ti)
mk("dotdot.tar", [("f", "app/../../etc/evil")])
mk("abslink.tar", [("l", "app/passwd", "/etc/passwd")])
mk("esclink.tar", [("l", "app/up", "../../../etc/shadow")])
mk("dev.tar", [("c", "app/null")])
PY
for case in "dotdot:member app/../../etc/evil has a '..' component" \
        "abslink:member app/passwd is an absolute symlink" \
        "esclink:member app/up is a symlink that points outside" \
        "dev:member app/null is a device file"; do
        name=${case%%:*}
        run_xarch build --platform linux/amd64 --add-archive "$TMPD/$name.tar:/opt" -t "oci:$TMPD/hostile"
        expect_rc 1 "$name.tar is refused"
        expect_err "${case#*:}" "$name.tar: the member is named"
done
head -c 300000000 /dev/zero >"$TMPD/zeros" && tar -C "$TMPD" -cf - zeros | gzip -1 >"$TMPD/bomb.tar.gz"
rm -f "$TMPD/zeros"
run_xarch build --platform linux/amd64 --add-archive "$TMPD/bomb.tar.gz:/opt" -t "oci:$TMPD/hostile"
expect_rc 1 "a decompression bomb is refused"
expect_err "decompression bomb" "and called one"
run_xarch build --platform linux/amd64 --max-archive-size 1M --add-archive "$TMPD/app-1.0-linux-arm64.tar.gz:/opt" \
        -t "oci:$TMPD/hostile"
expect_rc 1 "--max-archive-size bounds what an archive may expand to"
[ ! -e "$TMPD/hostile" ] && ok "nothing written for hostile archives" || not_ok "$TMPD/hostile exists"

# --- bases built by buildah and skopeo; podman and buildah read the results ---------------------
if missing=$(images_have_tools); [ -n "$missing" ] && ! images_have_tools >/dev/null; then
        skip "base image tests: $missing not installed"
        done_testing
        exit $?
fi
IMAGES_STATE=$TMPD/state
mkdir -p "$IMAGES_STATE/tmp"
export XDG_CACHE_HOME=$TMPD/cache
if ! images_prepare; then
        not_ok "make-images.sh failed"
        done_testing
        exit $?
fi
L=$IMAGES/local
# buildah and podman name images after their oci: directory, which must be lower-case
LOW=/tmp/xarch-build-t-$$
mkdir -p "$LOW"
trap 'rm -rf "$TMPD" "$LOW" "$(podman_runroot)"' EXIT
run_xarch build --json --from "oci:$L/multi.oci" --add "$FX/misc/text.txt:/etc/motd" \
        --env 'GREETING=hi' --user 1000 -t "oci:$LOW/on-multi:v1"
expect_rc 0 "build on a buildah-made 3-platform index"
[ "$(jq -r '[.platforms[].platform] | join(",")' "$TMPD/out")" = "linux/amd64,linux/arm64/v8,linux/arm/v7" ] &&
        ok "every platform of the base, in its order, labels from the base configs" ||
        not_ok "platforms: $(jq -c '[.platforms[].platform]' "$TMPD/out")"
got=$(skopeo inspect --override-arch arm64 --override-variant v8 "oci:$LOW/on-multi:v1" | jq -r '(.Layers | length | tostring) + " " + (.Env | join(","))')
[ "$got" = "2 GREETING=hi" ] && ok "skopeo: the base layer plus ours, env edited" || not_ok "skopeo: $got"
ctr=$(buildah_ from "oci:$LOW/on-multi:v1" 2>"$TMPD/buildah.err") &&
        ok "buildah from oci: accepts the result" || not_ok "buildah from: $(tail -2 "$TMPD/buildah.err")"
[ -n "${ctr:-}" ] && buildah_ rm "$ctr" >/dev/null 2>&1
run_xarch build --from "oci:$L/multi.oci" --platform linux/s390x --add "$FX/misc/text.txt:/etc/motd" \
        -t "oci:$TMPD/s390x"
expect_rc 1 "a platform the base lacks is refused"
expect_err "has no image for linux/s390x \(it has linux/amd64, linux/arm64/v8, linux/arm/v7\)" \
        "the error names the platform and what the base has"

# a base with the arm64 loader, made by buildah, under a dynamic Debian binary
if [ -d "$FX/debian/libc6-arm64/lib" ]; then
        ctr=$(buildah_ from --arch arm64 scratch)
        buildah_ copy "$ctr" "$FX/debian/libc6-arm64" / >/dev/null
        buildah_ config --os linux --arch arm64 "$ctr"
        buildah_ commit -q --format oci "$ctr" libc-arm64 >/dev/null
        buildah_ rm "$ctr" >/dev/null
        buildah_ push -q libc-arm64 "oci:$TMPD/libc.oci:latest" >/dev/null 2>&1
        run_xarch build --from "oci:$TMPD/libc.oci:latest" --platform linux/arm64 \
                --add "$FX/debian/hello-arm64:/usr/bin/hello" --cmd '["hello"]' -t "oci:$TMPD/hello-dyn"
        expect_rc 0 "a dynamic arm64 binary on a buildah base that has its loader"
        run_xarch build --from "oci:$TMPD/libc.oci:latest" --platform linux/arm64 \
                --add "$FX/debian/hello-armhf:/usr/bin/hello" -t "oci:$TMPD/hello-armhf"
        expect_rc 1 "an armhf binary on the arm64 base is refused"
fi

# docker-archive: podman loads it and runs the amd64 image natively
run_xarch build --from "docker-archive:$L/single.docker.tar" --add "$FX/go/hello-arm64:/usr/bin/hello2" \
        --cmd /usr/bin/hello2 -t "docker-archive:$TMPD/arm64.tar:xarch/arm64:1"
expect_rc 0 "build on a podman-saved docker-archive base"
run_xarch build --platform linux/amd64 --add "$FX/go/hello-amd64:/hello" --entrypoint /hello \
        -t "docker-archive:$TMPD/amd64.tar:xarch/amd64:1"
expect_rc 0 "an amd64 image as docker-archive"
run_xarch build "${three[@]}" -t "docker-archive:$TMPD/three.tar"
expect_rc 1 "docker-archive refuses three platforms"
expect_err "one platform" "and says why"
[ ! -e "$TMPD/three.tar" ] && ok "nothing written for it" || not_ok "$TMPD/three.tar exists"
if podman_ load -i "$TMPD/arm64.tar" >"$TMPD/load.out" 2>&1 && podman_ load -i "$TMPD/amd64.tar" >>"$TMPD/load.out" 2>&1; then
        ok "podman load reads both docker-archive files"
        arch=$(podman_ image inspect xarch/arm64:1 | jq -r '.[0].Architecture')
        [ "$arch" = arm64 ] && ok "podman sees the arm64 image" || not_ok "podman: $arch"
        printf '[containers]\ndefault_ulimits = []\n' >"$TMPD/containers.conf"
        out=$(CONTAINERS_CONF=$TMPD/containers.conf podman_ run --rm --net=none --ulimit host xarch/amd64:1 2>&1) || true
        if [ "$out" = "hello from amd64" ]; then ok "podman runs the amd64 image: $out"
        elif echo "$out" | grep -q "hello"; then not_ok "podman run: $out"
        else skip "podman cannot run containers here: $(echo "$out" | tail -1)"; fi
else
        not_ok "podman load: $(tail -3 "$TMPD/load.out")"
fi
done_testing
