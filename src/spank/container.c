/* See container.h. */
#define _GNU_SOURCE
#include "container.h"

#include "gantry_exec.h"
#include "gpus.h"
#include "join.h"
#include "options.h"
#include "save.h"
#include "stepdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <slurm/slurm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char batch_script[1024]; /* gs_remember_step: argv[0] of the batch step */

void gs_remember_step(spank_t sp) {
    int argc = 0;
    char** argv = NULL;
    uint32_t step = 0;
    if (spank_get_item(sp, S_JOB_STEPID, &step) == ESPANK_SUCCESS && step == SLURM_BATCH_SCRIPT &&
        spank_get_item(sp, S_JOB_ARGV, &argc, &argv) == ESPANK_SUCCESS && argc > 0)
        snprintf(batch_script, sizeof batch_script, "%s", argv[0]);
}

static void set_env(struct gs_step* s) {
    snprintf(s->env_home, sizeof s->env_home, "HOME=%s", s->home);
    s->env[0] = s->env_home;
    s->env[1] = NULL;
}

static int step_info(spank_t sp, struct gs_step* s) {
    memset(s, 0, sizeof *s);
    if (spank_get_item(sp, S_JOB_UID, &s->uid) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_GID, &s->gid) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_ID, &s->job) != ESPANK_SUCCESS)
        return -1;
    if (spank_get_item(sp, S_JOB_STEPID, &s->step) != ESPANK_SUCCESS) s->step = 0;
    if (spank_get_item(sp, S_JOB_NODEID, &s->nodeid) != ESPANK_SUCCESS) s->nodeid = 0;
    if (spank_getenv(sp, "SLURMD_NODENAME", s->node, sizeof s->node) != ESPANK_SUCCESS) {
        const char* n = getenv("SLURMD_NODENAME");
        if (!n)
            gethostname(s->node, sizeof s->node - 1);
        else
            snprintf(s->node, sizeof s->node, "%s", n);
    }
    struct passwd* pw = getpwuid(s->uid);
    if (spank_getenv(sp, "HOME", s->home, sizeof s->home) != ESPANK_SUCCESS)
        snprintf(s->home, sizeof s->home, "%s", pw ? pw->pw_dir : "/");
    set_env(s);
    char v[1024];
    int n = 1;
    if (spank_getenv(sp, "XDG_CONFIG_HOME", v, sizeof v) == ESPANK_SUCCESS) {
        snprintf(s->env_xdg, sizeof s->env_xdg, "XDG_CONFIG_HOME=%s", v);
        s->env[n++] = s->env_xdg;
    }
    if (spank_getenv(sp, "GANTRY_AUTH_FILE", v, sizeof v) == ESPANK_SUCCESS) {
        snprintf(s->env_auth, sizeof s->env_auth, "GANTRY_AUTH_FILE=%s", v);
        s->env[n++] = s->env_auth;
    }
    /* lazy: the first run of an image on any node records the order it read it in, in the
     * directory the nodes share; the others fetch that first (docs/lazy-pull.md) */
    if (gs_lazy_pull() && gs_config.working_sets[0]) {
        char ws[1024];
        gs_expand(ws, sizeof ws, gs_config.working_sets, s);
        snprintf(s->env_ws, sizeof s->env_ws, "GANTRY_LAZY_WORKING_SETS=%s", ws);
        s->env[n++] = s->env_ws;
    }
    s->env[n] = NULL;
    gs_expand(s->store, sizeof s->store, gs_config.store, s);
    if (gs_args.name) {
        s->named = true;
        snprintf(s->name, sizeof s->name, "slurm.%u.%s.%s", s->job, gs_args.name, s->node);
        snprintf(s->dir, sizeof s->dir, "%s/%u/named.%u.%s.%s", gs_config.runtime_path,
                 (unsigned)s->uid, s->job, s->node, gs_args.name);
    } else {
        snprintf(s->name, sizeof s->name, "slurm.%u.%u.%s", s->job, s->step, s->node);
        snprintf(s->dir, sizeof s->dir, "%s/%u/step.%u.%u.%s", gs_config.runtime_path,
                 (unsigned)s->uid, s->job, s->step, s->node);
    }
    return 0;
}

int gs_prepare_runtime(spank_t sp) {
    uid_t uid;
    gid_t gid;
    if (spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_GID, &gid) != ESPANK_SUCCESS)
        return -1;
    /* once per node and step, before the tasks are forked (they inherit what it learned); a
     * failure is reported by each task (gs_task_join), where srun shows it */
    long t0 = gs_now_ms();
    if (gs_learn_gpu_vendors(uid, gid) == 0)
        slurm_verbose("gantry: learned the GPU vendors' variables and roots in %ld ms",
                      gs_now_ms() - t0);
    char d[1200];
    if (mkdir(gs_config.runtime_path, 0755) != 0 && errno != EEXIST) goto fail;
    snprintf(d, sizeof d, "%s/%u", gs_config.runtime_path, (unsigned)uid);
    if (mkdir(d, 0700) != 0 && errno != EEXIST) goto fail;
    if (chown(d, uid, gid) != 0) goto fail;
    return 0;
fail:
    slurm_error("gantry: cannot make the runtime directory under %s: %s (plugstack.conf "
                "runtime_path=)",
                gs_config.runtime_path, strerror(errno));
    return -1;
}

/* A relative .sqsh path is the job's working directory's (as --container-save's is), so that
 * gantry, started elsewhere, finds the same file. */
static void absolute_sqsh_path(spank_t sp, const struct gs_step* s) {
    if (!gs_args.image || gs_args.image[0] == '/' || !gs_is_sqsh_path(gs_args.image)) return;
    char pwd[1024] = "";
    if (spank_getenv(sp, "PWD", pwd, sizeof pwd) != ESPANK_SUCCESS || pwd[0] != '/')
        snprintf(pwd, sizeof pwd, "%s", s->home);
    size_t n = strlen(pwd) + strlen(gs_args.image) + 2;
    char* abs = malloc(n);
    if (!abs) return;
    snprintf(abs, n, "%s/%s", pwd, gs_args.image);
    free(gs_args.image);
    gs_args.image = abs;
}

/* The GPUs: --container-gpus, else the ones Slurm's GRES gave the step. */
#define ARG(x) (argv[argc++] = (char*)(x))

/* The image in the node's store: pulled once (under the store's own locks) if missing. */
static int ensure_image(const struct gs_step* s, char* out, size_t outlen) {
    if (gs_is_sqsh_path(gs_args.image)) {
        /* its files, served by FUSE, belong to a root that keep-id does not map: not writable
         * even where a mount point must be made */
        if (gs_args.remap_root == 0) {
            snprintf(out, outlen,
                     "gantry: error: --no-container-remap-root is not supported with a .sqsh "
                     "image (%s): drop it, or use a registry or store image\n",
                     gs_args.image);
            return -1;
        }
        if (access(gs_args.image, R_OK) == 0) return 0;
        snprintf(out, outlen,
                 "gantry: error: --container-image %s: %s on node %s (a .sqsh file every node "
                 "can read, such as one on a shared filesystem)\n",
                 gs_args.image, strerror(errno), s->node);
        return -1;
    }
    if (gs_lazy_pull()) { /* `gantry run --pull lazy` starts it from the registry */
        if (s->env_ws[0]) {
            const char* dir = s->env_ws + strlen("GANTRY_LAZY_WORKING_SETS=");
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                snprintf(out, outlen,
                         "gantry: error: working_sets=%s: %s on node %s (plugstack.conf: a "
                         "directory every node shares, whose parent the user may write)\n",
                         dir, strerror(errno), s->node);
                return -1;
            }
        }
        return 0;
    }
    char* argv[8];
    int argc = 0;
    ARG(gs_config.gantry);
    if (s->store[0]) {
        ARG("--root");
        ARG(s->store);
    }
    ARG("inspect");
    ARG(gs_args.image);
    argv[argc] = NULL;
    int rc = gs_exec_gantry(argv, s->uid, s->gid, s->env, out, outlen);
    if (rc == 0) return 0;
    if (rc != 3) return -1;
    long t0 = gs_now_ms();
    argc = 0;
    ARG(gs_config.gantry);
    if (s->store[0]) {
        ARG("--root");
        ARG(s->store);
    }
    ARG("pull");
    ARG("-q");
    ARG(gs_args.image);
    argv[argc] = NULL;
    rc = gs_exec_gantry(argv, s->uid, s->gid, s->env, out, outlen);
    slurm_info("gantry: node %s: pulled %s into %s in %ld ms (rc %d)", s->node, gs_args.image,
               s->store[0] ? s->store : "the default store", gs_now_ms() - t0, rc);
    return rc == 0 ? 0 : -1;
}

/* `gantry run -d --name NAME --pidfile DIR/pid [...] IMAGE` holding the namespaces */
static int create_container(spank_t sp, const struct gs_step* s, char* out, size_t outlen) {
    char* argv[3 * GS_MAX_LIST + 40];
    char mounts[GS_MAX_LIST + 4][2100];
    char pidfile[1300], gpubuf[600], hold[1100];
    int argc = 0, nm = 0;
    snprintf(pidfile, sizeof pidfile, "%s/pid", s->dir);
    snprintf(hold, sizeof hold, "%s:/.gantry-hold:ro", gs_config.hold);
    ARG(gs_config.gantry);
    if (s->store[0]) {
        ARG("--root");
        ARG(s->store);
    }
    ARG("run");
    ARG("-d");
    ARG("--name");
    ARG(s->name);
    ARG("--pidfile");
    ARG(pidfile);
    /* --container-entrypoint: the image's entrypoint runs once per node with the holder as its
     * command (`exec "$@"`), so what it exports reaches every task (the container's
     * environment is the tasks'); else nothing of it runs and the image needs no shell */
    if (gs_args.entrypoint != 1) {
        ARG("--entrypoint");
        ARG("");
    }
    /* the tasks join from the host's PID namespace (setns cannot move a process into another):
     * the container shares it, so /proc/self is theirs as for any process */
    ARG("--pid");
    ARG("host");
    /* the host's network whatever the config file makes gantry run's default: MPI and NCCL */
    ARG("--network");
    ARG("host");
    /* --no-container-remap-root: the user's own ids inside (gantry's --userns keep-id), else
     * root in the container's user namespace (gantry's default). A root job's is root's. */
    if (gs_args.remap_root == 0 && s->uid != 0) {
        ARG("--userns");
        ARG("keep-id");
    }
    ARG("-v");
    ARG(hold);
    if (gs_args.writable == 0) ARG("--read-only");
    for (int i = 0; i < gs_args.n_mounts; i++) {
        snprintf(mounts[nm], sizeof mounts[nm], "%s:%s%s", gs_args.mounts[i].src,
                 gs_args.mounts[i].dst, gs_args.mounts[i].ro ? ":ro" : "");
        ARG("-v");
        ARG(mounts[nm++]);
    }
    if (gs_args.mount_home == 1) {
        snprintf(mounts[nm], sizeof mounts[nm], "%s:%s", s->home, s->home);
        ARG("-v");
        ARG(mounts[nm++]);
    }
    /* PMIx: the step's PMIx server sockets */
    char pmix[1024];
    if (spank_getenv(sp, "PMIX_SERVER_TMPDIR", pmix, sizeof pmix) == ESPANK_SUCCESS &&
        pmix[0] == '/') {
        snprintf(mounts[nm], sizeof mounts[nm], "%s:%s", pmix, pmix);
        ARG("-v");
        ARG(mounts[nm++]);
        /* PMIx's munge security (PMIX_SECURITY_MODE=munge,...) asks munged for a credential */
        char mode[256];
        if (spank_getenv(sp, "PMIX_SECURITY_MODE", mode, sizeof mode) == ESPANK_SUCCESS &&
            strstr(mode, "munge") && access("/run/munge", X_OK) == 0) {
            ARG("-v");
            ARG("/run/munge:/run/munge:ro");
        }
    }
    /* the batch step: its script (in slurmd's spool) at the same path, read-only */
    if (s->step == SLURM_BATCH_SCRIPT && batch_script[0] == '/') {
        snprintf(mounts[nm], sizeof mounts[nm], "%s:%s:ro", batch_script, batch_script);
        ARG("-v");
        ARG(mounts[nm++]);
    }
    const char* gpus = gs_step_gpus(sp, gpubuf, sizeof gpubuf);
    char roots[GS_MAX_ROOTS][1100];
    if (gpus) {
        ARG("--gpus");
        ARG(gpus);
        for (int i = 0; i < gs_config.n_roots; i++) {
            gs_expand(roots[i], sizeof roots[i], gs_config.roots[i].value, s);
            ARG(gs_config.roots[i].flag);
            ARG(roots[i]);
        }
    }
    if (gs_lazy_pull()) {
        ARG("--pull");
        ARG("lazy");
    }
    ARG(gs_args.image);
    ARG("/.gantry-hold");
    argv[argc] = NULL;
    return gs_exec_gantry(argv, s->uid, s->gid, s->env, out, outlen) == 0 ? 0 : -1;
}

static void remove_container(const struct gs_step* s) {
    char *argv[8], out[2048];
    int argc = 0;
    ARG(gs_config.gantry);
    if (s->store[0]) {
        ARG("--root");
        ARG(s->store);
    }
    ARG("rm");
    ARG("-f");
    ARG(s->name);
    argv[argc] = NULL;
    int rc = gs_exec_gantry(argv, s->uid, s->gid, s->env, out, sizeof out);
    if (rc != 0 && rc != 3)
        slurm_error("gantry: removing container %s: %s", s->name, gs_error_line(out));
}

static pid_t container_pid(spank_t sp, const struct gs_step* s, char* err, size_t errlen) {
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot make %s: %s", s->dir, strerror(errno));
        return -1;
    }
    char lockpath[1300];
    snprintf(lockpath, sizeof lockpath, "%s/lock", s->dir);
    int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock %s: %s", lockpath, strerror(errno));
        if (lock >= 0) close(lock);
        return -1;
    }
    pid_t pid = -1;
    char buf[4096], errfile[64], stepid[64];
    snprintf(errfile, sizeof errfile, "error.%u", s->step);
    snprintf(stepid, sizeof stepid, "%u.%u\n", s->job, s->step);
    if (gs_read_file(s->dir, errfile, buf, sizeof buf)) {
        snprintf(err, errlen, "%s", buf); /* the first task's failure, for every task */
        goto out;
    }
    if (gs_read_file(s->dir, "pid", buf, sizeof buf) && gs_is_holder((pid_t)atoi(buf))) {
        pid = (pid_t)atoi(buf);
        if (s->named && gs_args.name_flag == GS_NAME_CREATE &&
            !(gs_read_file(s->dir, "step", buf, sizeof buf) && strcmp(buf, stepid) == 0)) {
            snprintf(err, errlen, "container %s already exists (--container-name %s:create)",
                     gs_args.name, gs_args.name);
            pid = -1;
        }
        goto out;
    }
    if (s->named && gs_args.name_flag == GS_NAME_EXEC) {
        snprintf(err, errlen, "no running container %s on node %s (--container-name %s:exec)",
                 gs_args.name, s->node, gs_args.name);
        goto out;
    }
    if (!gs_args.image) {
        snprintf(err, errlen, "no container %s on node %s, and no --container-image to make it",
                 gs_args.name, s->node);
        goto out;
    }
    for (int i = 0; i < gs_args.n_mounts; i++)
        if (access(gs_args.mounts[i].src, F_OK) != 0) {
            snprintf(err, errlen, "--container-mounts %s:%s: %s: %s on node %s",
                     gs_args.mounts[i].src, gs_args.mounts[i].dst, gs_args.mounts[i].src,
                     strerror(errno), s->node);
            gs_write_file(s->dir, errfile, err);
            goto out;
        }
    char out[16384];
    long t0 = gs_now_ms();
    absolute_sqsh_path(sp, s);
    if (s->named) remove_container(s); /* an exited one of the same name */
    if (ensure_image(s, out, sizeof out) != 0 || create_container(sp, s, out, sizeof out) != 0) {
        snprintf(err, errlen, "%s", gs_error_line(out));
        gs_write_file(s->dir, errfile, err);
        goto out;
    }
    /* with --container-entrypoint, until the entrypoint has exec'ed the holder (60 s at most) */
    bool held = false;
    for (int i = 0;
         i < 6000 && gs_read_file(s->dir, "pid", buf, sizeof buf) && gs_alive((pid_t)atoi(buf));
         i++) {
        if ((held = gs_is_holder((pid_t)atoi(buf)))) break;
        usleep(10000);
    }
    long t1 = gs_now_ms();
    if (!held) {
        snprintf(err, errlen, "container %s started but its process is gone%s", s->name,
                 gs_args.entrypoint == 1 ? " (does the image's entrypoint end with exec \"$@\"?)"
                                         : "");
        gs_write_file(s->dir, errfile, err);
        goto out;
    }
    pid = (pid_t)atoi(buf);
    gs_write_file(s->dir, "step", stepid);
    slurm_info("gantry: node %s step %u.%u: container %s ready in %ld ms (pid %d)", s->node, s->job,
               s->step, s->name, t1 - t0, (int)pid);
out:
    close(lock);
    return pid;
}

int gs_task_join(spank_t sp) {
    struct gs_step s;
    if (step_info(sp, &s) != 0) {
        slurm_error("gantry: cannot read the job's uid, gid or id");
        return -1;
    }
    if (gs_args.name_flag == GS_NAME_NO_EXEC) {
        slurm_error("gantry: --container-name NAME:no_exec is not supported yet (docs/slurm.md "
                    "lists the options)");
        return -1;
    }
    if (gs_gpu_vendors_error()) {
        slurm_error("gantry: %s", gs_gpu_vendors_error());
        return -1;
    }
    char err[4096] = "";
    long t0 = gs_now_ms();
    pid_t pid = container_pid(sp, &s, err, sizeof err);
    if (pid <= 0) {
        slurm_error("gantry: %s", err);
        return -1;
    }
    if (gs_import_environment(sp, pid) != 0) {
        slurm_error("gantry: the container %s exited before task could join it", s.name);
        return -1;
    }
    gs_renumber_gpus(sp);
    if (gs_join_namespaces(pid, err, sizeof err) != 0) {
        slurm_error("gantry: %s", err);
        return -1;
    }
    slurm_verbose("gantry: task joined %s in %ld ms", s.name, gs_now_ms() - t0);
    return 0;
}

/* FN(ARG) as the job's user: slurmstepd's exit and slurmd's epilog run as root, and the step
 * directories are the user's (a symbolic link put there must not lead root anywhere). */
static void as_user(uid_t uid, gid_t gid, void (*fn)(void*), void* arg) {
    if (geteuid() != 0) {
        fn(arg);
        return;
    }
    pid_t pid = fork();
    if (pid < 0) return;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setregid(gid, gid) != 0 || setreuid(uid, uid) != 0) _exit(1);
        fn(arg);
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

struct step_end {
    struct gs_step s;
    char save[1100]; /* --container-save's path, absolute; "" for none */
};

static void step_cleanup(void* arg) {
    struct step_end* e = arg;
    struct gs_step* s = &e->s;
    char buf[64];
    if (e->save[0] && gs_read_file(s->dir, "pid", buf, sizeof buf) &&
        gs_is_holder((pid_t)atoi(buf))) {
        char err[4096];
        long t0 = gs_now_ms();
        if (gs_save_container(s, (pid_t)atoi(buf), e->save, err, sizeof err) != 0)
            slurm_error("gantry: %s", err);
        else
            slurm_info("gantry: node %s: container %s saved to %s in %ld ms", s->node, s->name,
                       e->save, gs_now_ms() - t0);
    }
    if (s->named) return; /* the job epilog removes it */
    if (gs_read_file(s->dir, "step", buf, sizeof buf)) remove_container(s);
    gs_remove_tree(s->dir);
}

void gs_step_cleanup(spank_t sp) {
    static struct step_end e;
    memset(&e, 0, sizeof e);
    if (step_info(sp, &e.s) != 0) return;
    /* the first node saves (every node's container would go to the same path); a relative
     * path is the job's working directory's */
    if (gs_args.save && e.s.nodeid == 0) {
        char pwd[1024] = "";
        if (gs_args.save[0] != '/' && spank_getenv(sp, "PWD", pwd, sizeof pwd) != ESPANK_SUCCESS)
            snprintf(pwd, sizeof pwd, "%s", e.s.home);
        snprintf(e.save, sizeof e.save, "%s%s%s", gs_args.save[0] == '/' ? "" : pwd,
                 gs_args.save[0] == '/' ? "" : "/", gs_args.save);
    }
    if (e.s.named && !e.save[0]) return; /* the job epilog removes it */
    as_user(e.s.uid, e.s.gid, step_cleanup, &e);
}

struct job_cleanup {
    uid_t uid;
    gid_t gid;
    uint32_t job;
};

static void job_cleanup(void* arg) {
    const struct job_cleanup* j = arg;
    char dir[1200], prefix[64];
    snprintf(dir, sizeof dir, "%s/%u", gs_config.runtime_path, (unsigned)j->uid);
    snprintf(prefix, sizeof prefix, "named.%u.", j->job);
    const char* here = getenv("SLURMD_NODENAME");
    DIR* d = opendir(dir);
    if (!d) return;
    struct dirent* e;
    struct passwd* pw = getpwuid(j->uid);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        /* named.<job>.<node>.<name>: the container is slurm.<job>.<name>.<node> */
        const char* node_name = e->d_name + strlen(prefix);
        const char* dot = strchr(node_name, '.');
        if (!dot) continue;
        struct gs_step s;
        memset(&s, 0, sizeof s);
        s.uid = j->uid;
        s.gid = j->gid;
        snprintf(s.home, sizeof s.home, "%s", pw ? pw->pw_dir : "/");
        set_env(&s);
        snprintf(s.node, sizeof s.node, "%.*s", (int)(dot - node_name), node_name);
        if (here && strcmp(here, s.node) != 0) continue; /* another slurmd's, on this machine */
        gs_expand(s.store, sizeof s.store, gs_config.store, &s);
        snprintf(s.name, sizeof s.name, "slurm.%u.%s.%s", j->job, dot + 1, s.node);
        remove_container(&s);
        char p[2600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        gs_remove_tree(p);
    }
    closedir(d);
}

void gs_job_cleanup(spank_t sp) {
    struct job_cleanup j;
    if (spank_get_item(sp, S_JOB_UID, &j.uid) != ESPANK_SUCCESS ||
        spank_get_item(sp, S_JOB_ID, &j.job) != ESPANK_SUCCESS) {
        slurm_error("gantry: job epilog: the job's uid or id is not available");
        return;
    }
    struct passwd* pw = getpwuid(j.uid);
    j.gid = pw ? pw->pw_gid : j.uid;
    slurm_info("gantry: job %u epilog: removing its named containers", j.job);
    as_user(j.uid, j.gid, job_cleanup, &j);
}
