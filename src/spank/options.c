/* The plugin's options; see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gs_args gs_args = {.writable = -1, .mount_home = -1, .remap_root = -1, .entrypoint = -1};
struct gs_config gs_config = {
    .gantry = "/usr/bin/gantry",
    .runtime_path = "/run/gantry-slurm",
    .hold = "/usr/libexec/gantry/gantry-hold",
    .mksquashfs = "/usr/bin/mksquashfs",
    .pull = "full",
};

static void set_str(char** dst, const char* v) {
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

/* SRC:DST[:ro|rw],... ; absolute paths, no empty parts */
static int parse_mounts(const char* v) {
    /* an option may be given again (the environment first, then the line): the last wins */
    for (int i = 0; i < gs_args.n_mounts; i++) {
        free(gs_args.mounts[i].src);
        free(gs_args.mounts[i].dst);
    }
    gs_args.n_mounts = 0;
    char *copy = strdup(v), *save = NULL;
    for (char* m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (gs_args.n_mounts == GS_MAX_LIST) {
            slurm_error("gantry: --container-mounts: more than %d mounts", GS_MAX_LIST);
            goto bad;
        }
        char *src = m, *dst = strchr(m, ':'), *flags = NULL;
        if (dst) {
            *dst++ = '\0';
            flags = strchr(dst, ':');
            if (flags) *flags++ = '\0';
        } else {
            dst = src; /* pyxis: a single path is mounted at the same place */
        }
        bool ro = false;
        if (flags && strcmp(flags, "ro") == 0)
            ro = true;
        else if (flags && strcmp(flags, "rw") != 0) {
            slurm_error("gantry: --container-mounts: unknown flag \"%s\" in \"%s\" (use SRC:DST, "
                        "SRC:DST:ro or SRC:DST:rw)",
                        flags, m);
            goto bad;
        }
        if (src[0] != '/' || dst[0] != '/') {
            slurm_error("gantry: --container-mounts: \"%s\" and \"%s\" must be absolute paths", src,
                        dst);
            goto bad;
        }
        struct gs_mount* mt = &gs_args.mounts[gs_args.n_mounts++];
        mt->src = strdup(src);
        mt->dst = strdup(dst);
        mt->ro = ro;
    }
    free(copy);
    return 0;
bad:
    free(copy);
    return -1;
}

static int parse_env_names(const char* v) {
    for (int i = 0; i < gs_args.n_env; i++) free(gs_args.env_names[i]);
    gs_args.n_env = 0;
    char *copy = strdup(v), *save = NULL;
    for (char* n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
        if (gs_args.n_env == GS_MAX_LIST) break;
        gs_args.env_names[gs_args.n_env++] = strdup(n);
    }
    free(copy);
    return 0;
}

static int parse_name(const char* v) {
    char *copy = strdup(v), *colon = strrchr(copy, ':');
    gs_args.name_flag = GS_NAME_AUTO;
    if (colon) {
        *colon++ = '\0';
        if (strcmp(colon, "create") == 0)
            gs_args.name_flag = GS_NAME_CREATE;
        else if (strcmp(colon, "exec") == 0)
            gs_args.name_flag = GS_NAME_EXEC;
        else if (strcmp(colon, "no_exec") == 0)
            gs_args.name_flag = GS_NAME_NO_EXEC;
        else if (strcmp(colon, "auto") != 0) {
            slurm_error("gantry: --container-name: unknown flag \"%s\" (auto, create, exec or "
                        "no_exec)",
                        colon);
            free(copy);
            return -1;
        }
    }
    for (const char* c = copy; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.' || *c == '-')) {
            slurm_error("gantry: --container-name: \"%s\" may hold only letters, digits, '_', '.' "
                        "and '-'",
                        copy);
            free(copy);
            return -1;
        }
    set_str(&gs_args.name, copy);
    free(copy);
    return 0;
}

enum {
    O_IMAGE = 1,
    O_MOUNTS,
    O_WORKDIR,
    O_NAME,
    O_SAVE,
    O_MOUNT_HOME,
    O_NO_MOUNT_HOME,
    O_REMAP,
    O_NO_REMAP,
    O_ENTRY,
    O_NO_ENTRY,
    O_WRITABLE,
    O_READONLY,
    O_ENV,
    O_GPUS,
    O_PULL
};

/* full: pulled into the node's store, then run; lazy: started from the registry */
static bool valid_pull(const char* v) {
    return strcmp(v, "full") == 0 || strcmp(v, "lazy") == 0;
}

static int set_option(int val, const char* optarg) {
    switch (val) {
    case O_IMAGE:
        set_str(&gs_args.image, optarg);
        return 0;
    case O_MOUNTS:
        return parse_mounts(optarg);
    case O_WORKDIR:
        if (optarg[0] != '/') {
            slurm_error("gantry: --container-workdir \"%s\" must be an absolute path", optarg);
            return -1;
        }
        set_str(&gs_args.workdir, optarg);
        return 0;
    case O_NAME:
        return parse_name(optarg);
    case O_SAVE:
        set_str(&gs_args.save, optarg);
        return 0;
    case O_MOUNT_HOME:
        gs_args.mount_home = 1;
        return 0;
    case O_NO_MOUNT_HOME:
        gs_args.mount_home = 0;
        return 0;
    case O_REMAP:
        gs_args.remap_root = 1;
        return 0;
    case O_NO_REMAP:
        gs_args.remap_root = 0;
        return 0;
    case O_ENTRY:
        gs_args.entrypoint = 1;
        return 0;
    case O_NO_ENTRY:
        gs_args.entrypoint = 0;
        return 0;
    case O_WRITABLE:
        gs_args.writable = 1;
        return 0;
    case O_READONLY:
        gs_args.writable = 0;
        return 0;
    case O_ENV:
        return parse_env_names(optarg);
    case O_GPUS:
        set_str(&gs_args.gpus, optarg);
        return 0;
    case O_PULL:
        if (!valid_pull(optarg)) {
            slurm_error("gantry: --container-pull \"%s\": use lazy (start from the registry, "
                        "files fetched as read) or full (pull the whole image first)",
                        optarg);
            return -1;
        }
        set_str(&gs_args.pull, optarg);
        return 0;
    }
    return -1;
}

static int option_cb(int val, const char* optarg, int remote) {
    (void)remote;
    return set_option(val, optarg ? optarg : "");
}

static struct spank_option options[] = {
    {"container-image", "[USER@][REGISTRY#]IMAGE[:TAG]|PATH",
     "[gantry] the image: a registry reference, a store image, or a .sqsh file (a path)", 1,
     O_IMAGE, option_cb},
    {"container-mounts", "SRC:DST[:ro|rw][,...]", "[gantry] bind mounts", 1, O_MOUNTS, option_cb},
    {"container-workdir", "PATH", "[gantry] working directory inside the container", 1, O_WORKDIR,
     option_cb},
    {"container-name", "NAME[:create|exec|no_exec|auto]",
     "[gantry] name the container (kept on the node for the job's later steps)", 1, O_NAME,
     option_cb},
    {"container-save", "PATH", "[gantry] save the container to a .sqsh file at the end", 1, O_SAVE,
     option_cb},
    {"container-mount-home", NULL, "[gantry] bind the user's home directory", 0, O_MOUNT_HOME,
     option_cb},
    {"no-container-mount-home", NULL, "[gantry] do not bind the home directory (default)", 0,
     O_NO_MOUNT_HOME, option_cb},
    {"container-remap-root", NULL, "[gantry] be root inside the container (default)", 0, O_REMAP,
     option_cb},
    {"no-container-remap-root", NULL, "[gantry] keep your own uid inside the container", 0,
     O_NO_REMAP, option_cb},
    {"container-entrypoint", NULL, "[gantry] run the image's entrypoint (once per node)", 0,
     O_ENTRY, option_cb},
    {"no-container-entrypoint", NULL, "[gantry] do not run the image's entrypoint (default)", 0,
     O_NO_ENTRY, option_cb},
    {"container-writable", NULL, "[gantry] writable root filesystem (default)", 0, O_WRITABLE,
     option_cb},
    {"container-readonly", NULL, "[gantry] read-only root filesystem", 0, O_READONLY, option_cb},
    {"container-env", "NAME[,NAME...]",
     "[gantry] these variables keep the host's value over the image's", 1, O_ENV, option_cb},
    {"container-gpus", "all|N|device=I,J",
     "[gantry] GPUs for the container (default: the step's GRES GPUs)", 1, O_GPUS, option_cb},
    {"container-pull", "lazy|full",
     "[gantry] lazy: each node starts from the registry, fetching files as they are read "
     "(default: the site's pull=)",
     1, O_PULL, option_cb},
    SPANK_OPTIONS_TABLE_END};

int gs_register_options(spank_t sp) {
    for (struct spank_option* o = options; o->name; o++)
        if (spank_option_register(sp, o) != ESPANK_SUCCESS) {
            slurm_error("gantry: cannot register option --%s", o->name);
            return -1;
        }
    return 0;
}

/* NAME_root=PATH (KLEN: the key's length) as gantry's --NAME-root: 1 taken, 0 not a root's key,
 * -1 refused (slurm_error said why). Given again, the last wins. */
static int parse_root(const char* arg, size_t klen, const char* value) {
    static const char suffix[] = "_root";
    size_t slen = sizeof suffix - 1;
    if (klen <= slen || klen - slen + 8 > sizeof gs_config.roots[0].flag ||
        strncmp(arg + klen - slen, suffix, slen) != 0)
        return 0;
    for (size_t i = 0; i < klen - slen; i++)
        if (!islower((unsigned char)arg[i]) && !isdigit((unsigned char)arg[i]) && arg[i] != '_')
            return 0;
    if (value[0] != '/' || strlen(value) > 512) {
        slurm_error("gantry: plugstack.conf: %s: give an absolute path of at most 512 bytes", arg);
        return -1;
    }
    char flag[sizeof gs_config.roots[0].flag];
    snprintf(flag, sizeof flag, "--%.*s", (int)klen, arg); /* driver_root -> --driver-root */
    for (char* c = flag + 2; *c; c++)
        if (*c == '_') *c = '-';
    int at = 0;
    while (at < gs_config.n_roots && strcmp(gs_config.roots[at].flag, flag) != 0) at++;
    if (at == GS_MAX_ROOTS) {
        slurm_error("gantry: plugstack.conf: more than %d NAME_root= arguments", GS_MAX_ROOTS);
        return -1;
    }
    if (at == gs_config.n_roots) gs_config.n_roots++;
    snprintf(gs_config.roots[at].flag, sizeof gs_config.roots[at].flag, "%s", flag);
    snprintf(gs_config.roots[at].value, sizeof gs_config.roots[at].value, "%s", value);
    return 1;
}

int gs_parse_config(int ac, char** av) {
    static const struct {
        const char* key;
        char* dst;
    } keys[] = {{"gantry", gs_config.gantry},
                {"store", gs_config.store},
                {"runtime_path", gs_config.runtime_path},
                {"hold", gs_config.hold},
                {"mksquashfs", gs_config.mksquashfs},
                {"pull", gs_config.pull},
                {"working_sets", gs_config.working_sets}};
    for (int i = 0; i < ac; i++) {
        const char* eq = strchr(av[i], '=');
        size_t klen = eq ? (size_t)(eq - av[i]) : 0;
        bool known = false;
        for (size_t k = 0; eq && k < sizeof keys / sizeof keys[0]; k++)
            if (strlen(keys[k].key) == klen && strncmp(av[i], keys[k].key, klen) == 0) {
                if (strlen(eq + 1) > 512) {
                    slurm_error("gantry: plugstack.conf: %s is longer than 512 bytes", av[i]);
                    return -1;
                }
                if (keys[k].dst == gs_config.pull && !valid_pull(eq + 1)) {
                    slurm_error("gantry: plugstack.conf: %s: use pull=full or pull=lazy", av[i]);
                    return -1;
                }
                if (keys[k].dst == gs_config.working_sets && eq[1] != '/') {
                    slurm_error("gantry: plugstack.conf: %s: give an absolute path (a directory "
                                "every node shares)",
                                av[i]);
                    return -1;
                }
                snprintf(keys[k].dst, keys[k].dst == gs_config.pull ? sizeof gs_config.pull : 1024,
                         "%s", eq + 1);
                known = true;
            }
        if (!known && eq) {
            int r = parse_root(av[i], klen, eq + 1);
            if (r < 0) return -1;
            known = r == 1;
        }
        if (!known) {
            slurm_error("gantry: plugstack.conf: unknown argument \"%s\" (gantry=, store=, "
                        "runtime_path=, NAME_root= such as driver_root=, dev_root=, sys_root=, "
                        "hold=, mksquashfs=, pull=, working_sets=)",
                        av[i]);
            return -1;
        }
    }
    return 0;
}

static const char* lookup(spank_t sp, const char* var, char* buf, size_t len) {
    if (!spank_remote(sp)) return getenv(var);
    return spank_getenv(sp, var, buf, (int)len) == ESPANK_SUCCESS ? buf : NULL;
}

/* PYXIS_CONTAINER_<OPTION> (upper case, '-' as '_'), for options not given on the line */
int gs_read_environment(spank_t sp) {
    static const struct {
        const char* var;
        int val;
        bool flag; /* value "1"/"0" selects val or its negation (val + 1) */
    } vars[] = {{"PYXIS_CONTAINER_IMAGE", O_IMAGE, false},
                {"PYXIS_CONTAINER_MOUNTS", O_MOUNTS, false},
                {"PYXIS_CONTAINER_WORKDIR", O_WORKDIR, false},
                {"PYXIS_CONTAINER_NAME", O_NAME, false},
                {"PYXIS_CONTAINER_SAVE", O_SAVE, false},
                {"PYXIS_CONTAINER_MOUNT_HOME", O_MOUNT_HOME, true},
                {"PYXIS_CONTAINER_REMAP_ROOT", O_REMAP, true},
                {"PYXIS_CONTAINER_ENTRYPOINT", O_ENTRY, true},
                {"PYXIS_CONTAINER_WRITABLE", O_WRITABLE, true},
                {"PYXIS_CONTAINER_READONLY", O_READONLY, true},
                {"PYXIS_CONTAINER_ENV", O_ENV, false},
                {"PYXIS_CONTAINER_GPUS", O_GPUS, false},
                {"PYXIS_CONTAINER_PULL", O_PULL, false}};
    char buf[8192];
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char* v = lookup(sp, vars[i].var, buf, sizeof buf);
        /* pyxis' own sbatch options as Slurm hands them to a job's environment, for jobs
         * submitted where pyxis was the plugin: SLURM_SPANK__SLURM_SPANK_OPTION_pyxis_<option> */
        if (!v && !vars[i].flag) {
            char alias[128] = "SLURM_SPANK__SLURM_SPANK_OPTION_pyxis_container_";
            size_t n = strlen(alias);
            for (const char* c = vars[i].var + strlen("PYXIS_CONTAINER_"); *c && n < 127; c++)
                alias[n++] = (char)tolower((unsigned char)*c);
            alias[n] = '\0';
            v = lookup(sp, alias, buf, sizeof buf);
        }
        if (!v) continue;
        /* the command line wins */
        int val = vars[i].val;
        if ((val == O_IMAGE && gs_args.image) || (val == O_NAME && gs_args.name) ||
            (val == O_WORKDIR && gs_args.workdir) || (val == O_MOUNTS && gs_args.n_mounts) ||
            (val == O_SAVE && gs_args.save) || (val == O_ENV && gs_args.n_env) ||
            (val == O_GPUS && gs_args.gpus) || (val == O_PULL && gs_args.pull))
            continue;
        if (vars[i].flag) {
            bool on = strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "y") == 0;
            bool off = strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcmp(v, "n") == 0;
            if (!on && !off) {
                slurm_error("gantry: %s=\"%s\": use 1 or 0", vars[i].var, v);
                return -1;
            }
            if (val == O_READONLY) {
                if (gs_args.writable == -1) gs_args.writable = on ? 0 : 1;
                continue;
            }
            int* field = val == O_MOUNT_HOME ? &gs_args.mount_home
                         : val == O_REMAP    ? &gs_args.remap_root
                         : val == O_ENTRY    ? &gs_args.entrypoint
                                             : &gs_args.writable;
            if (*field == -1) *field = on ? 1 : 0;
            continue;
        }
        if (set_option(val, v) != 0) return -1;
    }
    return 0;
}

bool gs_enabled(void) {
    return gs_args.image || gs_args.name;
}

static bool has_suffix(const char* s, const char* suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* A squashfs file as pyxis takes one: a path (/..., ./..., ../...), or a relative name of a
 * squashfs file without "./" (pyxis#168): app.sqsh, images/app.sqfs. A registry reference
 * (nvcr.io#nvidia/pytorch:24.01, ubuntu:24.04) is neither. */
bool gs_is_sqsh_path(const char* image) {
    if (image[0] == '/' || image[0] == '.') return true;
    if (strchr(image, '#')) return false;
    return has_suffix(image, ".sqsh") || has_suffix(image, ".sqfs") ||
           has_suffix(image, ".squashfs");
}

bool gs_lazy_pull(void) {
    const char* p = gs_args.pull ? gs_args.pull : gs_config.pull;
    return strcmp(p, "lazy") == 0 && gs_args.image && !gs_is_sqsh_path(gs_args.image);
}
