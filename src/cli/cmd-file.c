/* SPDX-License-Identifier: MIT */
/*
 * xarch file [-r] [-L] [--json] PATH...: what each binary really is. One analyzer (scratch
 * buffers) serves every file; directories are walked with openat so no path is resolved twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define PATH_BUF 4096
/* Each level of a walk holds a directory fd and ~9 KiB of stack; a hostile tree (a rootfs with
 * 2000 nested one-letter directories) would otherwise overflow the stack. */
#define MAX_DEPTH 256

struct file_ctx {
        bool json;
        bool recursive;
        bool dereference;
        unsigned depth; /* directories being walked */
        json_t *array;
        struct xarch_file_analyzer *analyzer;
        struct xarch_file_info info;
        char line[1024];
};

static void print_help(void) {
        fputs("Usage: xarch file [-r] [-L] [--json] PATH...\n"
              "\n"
              "NAME\n"
              "    xarch file - what a binary really is: architecture, linkage, language\n"
              "\n"
              "SYNOPSIS\n"
              "    xarch file [-r] [-L] [--json] PATH...\n"
              "\n"
              "DESCRIPTION\n"
              "    Prints one line per file: the container format (ELF, PE, Mach-O, #! script),\n"
              "    the OCI platform the binary needs (os/arch/variant, the arm variant from\n"
              "    .ARM.attributes or Go's GOARM, the amd64 level from GOAMD64 or the GNU x86\n"
              "    ISA note), static or dynamic linkage and the loader it needs, the language\n"
              "    (Go with version and build settings, Rust, C/C++) and whether it is stripped.\n"
              "    Only the headers and the few sections that answer these are read.\n"
              "\n"
              "OPTIONS\n"
              "    -r, --recursive    walk directories (symbolic links are reported, not "
              "followed)\n"
              "    -L, --dereference  follow symbolic links named on the command line\n"
              "        --json         print a JSON array of objects instead of lines\n"
              "    -h, --help         show this help\n"
              "\n"
              "EXIT STATUS\n"
              "    0 when every named path was read, 1 when one could not be, 2 on usage errors.\n"
              "    Unreadable files met while walking are reported on stderr and skipped.\n",
                        stdout);
}

static json_t *str_or_null(const char *s) {
        return s && s[0] ? json_string(s) : json_null();
}

static void json_set(json_t *obj, const char *key, json_t *value) {
        json_object_set_new(obj, key, value ? value : json_null());
}

static json_t *go_json(const struct xarch_go_info *go) {
        static const struct {
                unsigned bit;
                const char *name;
        } bits[] = {
                        {XARCH_GO_BUILDINFO, "buildinfo"},
                        {XARCH_GO_NOTE, "note"},
                        {XARCH_GO_PCLNTAB, "pclntab"},
                        {XARCH_GO_SECTIONS, "sections"},
                        {XARCH_GO_VERSION_SCAN, "version-scan"},
        };
        json_t *o = json_object();
        json_t *evidence = json_array();
        for (size_t i = 0; i < ELEMENTSOF(bits); i++)
                if (go->evidence & bits[i].bit)
                        json_array_append_new(evidence, json_string(bits[i].name));
        json_set(o, "version", str_or_null(go->version));
        json_set(o, "version_range", str_or_null(go->version_range));
        json_set(o, "goos", str_or_null(go->goos));
        json_set(o, "goarch", str_or_null(go->goarch));
        json_set(o, "level_key", str_or_null(go->level_key));
        json_set(o, "level", str_or_null(go->level));
        json_set(o, "cgo_enabled", go->cgo < 0 ? json_null() : json_boolean(go->cgo == 1));
        json_set(o, "buildmode", str_or_null(go->buildmode));
        json_set(o, "compiler", str_or_null(go->compiler));
        json_set(o, "path", str_or_null(go->path));
        json_set(o, "module", str_or_null(go->module));
        json_set(o, "evidence", evidence);
        return o;
}

static json_t *info_json(
                const char *path, const struct xarch_file_info *info, const char *description) {
        json_t *o = json_object();
        char platform[XARCH_PLATFORM_STRING_MAX];
        bool binary = info->kind == XARCH_FILE_ELF || info->kind == XARCH_FILE_PE ||
                      info->kind == XARCH_FILE_MACHO;

        json_set(o, "path", cli_json_bytes(path));
        json_set(o, "type", json_string(xarch_file_kind_name(info->kind)));
        json_set(o, "description", cli_json_bytes(description));
        if (binary && info->platform.arch[0]) {
                snprintf(platform, sizeof(platform), "%s/%s%s%s", info->platform.os,
                                info->platform.arch, info->platform.variant[0] ? "/" : "",
                                info->platform.variant);
                json_set(o, "platform", json_string(platform));
                json_set(o, "os", json_string(info->platform.os));
                json_set(o, "architecture", json_string(info->platform.arch));
                json_set(o, "variant", str_or_null(info->platform.variant));
                json_set(o, "variant_source", str_or_null(info->variant_source));
        } else
                json_set(o, "platform", json_null());
        if (binary) {
                json_set(o, "bits", info->bits ? json_integer(info->bits) : json_null());
                json_set(o, "byte_order", json_string(info->big_endian ? "big" : "little"));
                json_set(o, "machine", json_integer(info->machine));
                json_set(o, "machine_name", str_or_null(info->machine_name));
        }
        if (info->kind == XARCH_FILE_ELF) {
                json_set(o, "elf_type", json_integer(info->elf_type));
                json_set(o, "flags", json_integer(info->flags));
                json_set(o, "abi", str_or_null(info->abi));
                json_set(o, "linkage", json_string(xarch_file_linkage_name(info->linkage)));
                json_set(o, "pie", json_boolean(info->pie));
                json_set(o, "interpreter",
                                info->interpreter[0] ? cli_json_bytes(info->interpreter)
                                                     : json_null());
                json_set(o, "stripped",
                                info->stripped < 0 ? json_null()
                                                   : json_boolean(info->stripped == 1));
                json_set(o, "debug_info", json_boolean(info->debug_info));
                json_set(o, "amd64_level",
                                info->amd64_level ? json_integer(info->amd64_level) : json_null());
                json_set(o, "language", json_string(xarch_file_language_name(info->language)));
                json_set(o, "compiler", str_or_null(info->compiler));
                json_set(o, "rust_version", str_or_null(info->rust_version));
                json_set(o, "go", info->go.evidence ? go_json(&info->go) : json_null());
                if (info->arm.cpu_arch >= 0 || info->arm.vfp_args >= 0) {
                        json_t *arm = json_object();
                        json_set(arm, "cpu_arch", json_integer(info->arm.cpu_arch));
                        json_set(arm, "cpu_name", str_or_null(info->arm.cpu_name));
                        json_set(arm, "fp_arch", json_integer(info->arm.fp_arch));
                        json_set(arm, "vfp_args", json_integer(info->arm.vfp_args));
                        json_set(o, "arm_attributes", arm);
                }
        }
        if (info->kind == XARCH_FILE_SCRIPT)
                json_set(o, "interpreter",
                                info->interpreter[0] ? cli_json_bytes(info->interpreter)
                                                     : json_null());
        if (info->kind == XARCH_FILE_MACHO_FAT) {
                json_t *slices = json_array();
                for (unsigned i = 0; i < info->n_slices; i++) {
                        snprintf(platform, sizeof(platform), "%s/%s", info->slices[i].os,
                                        info->slices[i].arch);
                        json_array_append_new(slices, json_string(platform));
                }
                json_set(o, "slices", slices);
        }
        json_set(o, "problem", str_or_null(info->problem));
        return o;
}

/* A line or object for something that is not analysed: symlink, directory, special file. */
static void emit_other(struct file_ctx *c, const char *path, const char *type, const char *text,
                const char *target) {
        if (c->json) {
                json_t *o = json_object();
                json_set(o, "path", cli_json_bytes(path));
                json_set(o, "type", json_string(type));
                json_set(o, "description", cli_json_bytes(text));
                if (target)
                        json_set(o, "target", cli_json_bytes(target));
                json_array_append_new(c->array, o);
        } else {
                /* names with control bytes (a newline would forge a line) are quoted */
                cli_put_name(path);
                fputs(": ", stdout);
                if (target) {
                        fputs("symbolic link to ", stdout);
                        cli_put_name(target);
                } else {
                        fputs(text, stdout);
                }
                fputc('\n', stdout);
        }
}

static void emit_info(struct file_ctx *c, const char *path) {
        xarch_file_describe(&c->info, c->line, sizeof(c->line));
        if (c->json)
                json_array_append_new(c->array, info_json(path, &c->info, c->line));
        else {
                cli_put_name(path);
                fputs(": ", stdout);
                fputs(c->line, stdout);
                fputc('\n', stdout);
        }
}

/* Messages about a path. Not inlined: their buffers stay out of the stack frames of the
 * recursive walk (MAX_DEPTH levels must fit, under ASan too). */
static __attribute__((noinline)) void warn(const char *path, const char *what, int error) {
        fflush(stdout);
        char shown[PATH_MAX];
        fprintf(stderr, "xarch file: %s '%s': %s\n", what,
                        cli_printable(path, shown, sizeof(shown)), strerror(error));
}

static __attribute__((noinline)) void warn_depth(const char *path) {
        char shown[PATH_MAX];
        fflush(stdout);
        fprintf(stderr, "xarch file: '%s': more than %d directory levels, not walked\n",
                        cli_printable(path, shown, sizeof(shown)), MAX_DEPTH);
}

static __attribute__((noinline)) void warn_analyse(const char *path, const char *why) {
        char shown[PATH_MAX], shown_why[1024];
        fflush(stdout);
        fprintf(stderr, "xarch file: cannot analyse '%s': %s\n",
                        cli_printable(path, shown, sizeof(shown)),
                        cli_printable(why, shown_why, sizeof(shown_why)));
}

static __attribute__((noinline)) void warn_too_long(const char *path) {
        char shown[PATH_MAX];
        fflush(stdout);
        fprintf(stderr, "xarch file: path too long under '%s'\n",
                        cli_printable(path, shown, sizeof(shown)));
}

static const char *special_name(mode_t mode) {
        if (S_ISCHR(mode))
                return "character special";
        if (S_ISBLK(mode))
                return "block special";
        if (S_ISFIFO(mode))
                return "fifo (named pipe)";
        if (S_ISSOCK(mode))
                return "socket";
        return "special file";
}

static int walk(struct file_ctx *c, int dirfd, char *path, size_t path_len);

/* Handles one entry relative to dirfd. Returns 0, or -errno when it could not be read. */
static int handle(struct file_ctx *c, int dirfd, const char *name, char *path, size_t path_len,
                unsigned char d_type, bool named) {
        struct stat st;
        int r, follow = named && c->dereference ? 0 : AT_SYMLINK_NOFOLLOW;
        mode_t type;

        if (d_type != DT_UNKNOWN && !named)
                type = (mode_t) DTTOIF(d_type);
        else {
                if (fstatat(dirfd, name, &st, follow) < 0) {
                        int e = errno;
                        warn(path, "cannot stat", e);
                        return -e;
                }
                type = st.st_mode & S_IFMT;
        }

        if (S_ISLNK(type)) {
                char target[PATH_BUF];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (n < 0) {
                        int e = errno;
                        warn(path, "cannot read link", e);
                        return -e;
                }
                target[n] = '\0';
                char text[PATH_BUF + 32];
                snprintf(text, sizeof(text), "symbolic link to %s", target);
                emit_other(c, path, "symlink", text, target);
                return 0;
        }
        if (S_ISDIR(type)) {
                if (!c->recursive) {
                        emit_other(c, path, "directory", "directory", NULL);
                        return 0;
                }
                if (c->depth >= MAX_DEPTH) {
                        warn_depth(path);
                        return 0; /* skipped, like an unreadable entry met while walking */
                }
                int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0) {
                        int e = errno;
                        warn(path, "cannot open directory", e);
                        return -e;
                }
                c->depth++;
                r = walk(c, fd, path, path_len); /* takes the fd */
                c->depth--;
                return r;
        }
        if (!S_ISREG(type)) {
                emit_other(c, path, "special", special_name(type), NULL);
                return 0;
        }

        _cleanup_close_ int fd = openat(dirfd, name,
                        O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? O_NOFOLLOW : 0));
        if (fd < 0) {
                int e = errno;
                warn(path, "cannot open", e);
                return -e;
        }
        _cleanup_(xarch_error_freep) struct xarch_error *err = NULL;
        r = xarch_file_analyze_fd(c->analyzer, fd, &c->info, &err);
        if (r < 0) {
                warn_analyse(path, err && err->msg ? err->msg : strerror(-r));
                return r;
        }
        emit_info(c, path);
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Walks a directory in name order; consumes dirfd. Unreadable entries are warned about and
 * skipped: only the named paths decide the exit status. */
static int walk(struct file_ctx *c, int fd, char *path, size_t path_len) {
        _cleanup_closedir_ DIR *dir = fdopendir(fd);
        if (!dir) {
                int e = errno;
                close(fd);
                warn(path, "cannot read directory", e);
                return -e;
        }
        /* Names and types in one growing buffer: "<type><name>\0" each. */
        _cleanup_free_ char *names = NULL;
        _cleanup_free_ char **index = NULL;
        size_t used = 0, cap = 0, n = 0, n_cap = 0;
        struct dirent *de;
        errno = 0;
        while ((de = readdir(dir))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                size_t len = strlen(de->d_name) + 2;
                if (used + len > cap) {
                        size_t ncap = cap ? cap * 2 : 16384;
                        while (ncap < used + len)
                                ncap *= 2;
                        char *p = realloc(names, ncap);
                        if (!p)
                                return -ENOMEM;
                        names = p;
                        cap = ncap;
                }
                names[used] = (char) de->d_type;
                memcpy(names + used + 1, de->d_name, len - 1);
                if (n == n_cap) {
                        n_cap = n_cap ? n_cap * 2 : 256;
                        char **p = realloc(index, n_cap * sizeof(*index));
                        if (!p)
                                return -ENOMEM;
                        index = p;
                }
                index[n++] = (char *) (uintptr_t) used; /* offsets until names stops moving */
                used += len;
        }
        if (errno != 0) {
                warn(path, "cannot read directory", errno);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                index[i] = names + (uintptr_t) index[i] + 1;
        if (n > 1)
                qsort(index, n, sizeof(*index), compare_names);

        for (size_t i = 0; i < n; i++) {
                const char *name = index[i];
                size_t len = strlen(name);
                size_t sep = path_len > 0 && path[path_len - 1] != '/' ? 1 : 0;
                if (path_len + sep + len + 1 > PATH_BUF) {
                        warn_too_long(path);
                        continue;
                }
                if (sep)
                        path[path_len] = '/';
                memcpy(path + path_len + sep, name, len + 1);
                (void) handle(c, dirfd(dir), name, path, path_len + sep + len,
                                (unsigned char) name[-1], false);
                path[path_len] = '\0';
        }
        return 0;
}

int cmd_file(int argc, char **argv) {
        static const struct option options[] = {
                        {"help", no_argument, NULL, 'h'},
                        {"recursive", no_argument, NULL, 'r'},
                        {"dereference", no_argument, NULL, 'L'},
                        {"json", no_argument, NULL, 'j'},
                        {},
        };
        struct file_ctx *c = calloc(1, sizeof(*c));
        _cleanup_free_ char *path = NULL;
        _cleanup_(xarch_error_freep) struct xarch_error *err = NULL;
        int opt, failed = 0;

        if (!c)
                return cli_error("out of memory");
        while ((opt = getopt_long(argc, argv, "+hrLR", options, NULL)) != -1) {
                switch (opt) {
                case 'h':
                        print_help();
                        free(c);
                        return EXIT_OK;
                case 'r':
                case 'R':
                        c->recursive = true;
                        break;
                case 'L':
                        c->dereference = true;
                        break;
                case 'j':
                        c->json = true;
                        cli_json_requested();
                        break;
                default:
                        free(c);
                        return cli_option_error("file", opt, argc, argv);
                }
        }
        if (optind >= argc) {
                free(c);
                return cli_usage_error("file", "no path given");
        }
        path = malloc(PATH_BUF);
        if (!path || xarch_file_analyzer_new(&c->analyzer, &err) < 0) {
                free(c);
                return cli_error("out of memory");
        }
        if (c->json)
                c->array = json_array();

        for (int i = optind; i < argc; i++) {
                size_t len = strlen(argv[i]);
                if (len >= PATH_BUF) {
                        fflush(stdout);
                        fprintf(stderr, "xarch file: path too long: '%.64s...'\n", argv[i]);
                        failed = 1;
                        continue;
                }
                memcpy(path, argv[i], len + 1);
                if (handle(c, AT_FDCWD, argv[i], path, len, DT_UNKNOWN, true) < 0)
                        failed = 1;
        }

        int r = EXIT_OK;
        if (c->json)
                r = cli_print_json(c->array);
        fflush(stdout);
        xarch_file_analyzer_free(c->analyzer);
        free(c);
        if (r != EXIT_OK)
                return r;
        return failed ? EXIT_FAIL : EXIT_OK;
}
