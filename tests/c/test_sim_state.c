/* Simulator state= files: one process at a time, every completed request on disk, safe writes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_sim_util.h"

static void tmpname(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/dfush_test_state_%ld_%s", (long)getpid(), tag);
    remove(buf);
}

static void cleanup(const char *path)
{
    char aux[200];

    remove(path);
    snprintf(aux, sizeof aux, "%s.lock", path);
    remove(aux);
    snprintf(aux, sizeof aux, "%s.tmp", path);
    remove(aux);
}

static long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (int)n;
}

/* A child process that opens @spec, runs @work on it, tells the parent over a pipe and then
 * either waits for the parent (hold) or kills itself with SIGKILL. */
struct child {
    pid_t pid;
    int to_child, from_child;
};

static int start_child(struct child *c, const char *spec, int (*work)(dfu_sim *s), int hold)
{
    int up[2], down[2];
    char b = 0;

    if (pipe(up) != 0 || pipe(down) != 0)
        return -1;
    fflush(NULL);
    c->pid = fork();
    if (c->pid < 0)
        return -1;
    if (c->pid == 0) {
        dfu_sim *s = mk(spec);
        close(up[0]);
        close(down[1]);
        b = s != NULL && (work == NULL || work(s) == 0) ? 'y' : 'n';
        if (write(up[1], &b, 1) != 1)
            _exit(2);
        if (!hold)
            raise(SIGKILL);
        if (read(down[0], &b, 1) < 0)
            _exit(3);
        dfu_sim_free(s);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    c->to_child = down[1];
    c->from_child = up[0];
    if (read(c->from_child, &b, 1) != 1 || b != 'y')
        return -1;
    return 0;
}

/* Lets a holding child free its simulator and exit; returns its wait status. */
static int end_child(struct child *c)
{
    int status = 0;

    close(c->to_child);
    close(c->from_child);
    waitpid(c->pid, &status, 0);
    return status;
}

static uint8_t pattern[1024];

static void fill_pattern(void)
{
    for (unsigned i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
}

static int child_flash(dfu_sim *s)
{
    if (erase_page(s, 0x08020000) != 0)
        return 1;
    if (write_at(s, 0x08020000, pattern, sizeof pattern) != 0)
        return 1;
    return write_at(s, 0x24040000, pattern, 64);
}

/* A second process cannot open a state file while the first has it; it can afterwards, and
 * the file then holds what the first one wrote. */
static int test_second_process_refused(void)
{
    char path[128], link[140], lock[140], spec[256];
    struct child c;
    uint8_t back[1024];
    dfu_sim *s = NULL;

    tmpname(path, sizeof path, "busy");
    snprintf(link, sizeof link, "%s.link", path);
    remove(link);
    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    fill_pattern();
    T_EQ_INT(start_child(&c, spec, child_flash, 1), 0);

    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_BUSY);
    T_ASSERT(s == NULL);
    T_ASSERT(strstr(e_.msg, path) != NULL);
    T_ASSERT(strstr(e_.msg, "in use by another process") != NULL);
    /* a symbolic link to the same file finds the same lock */
    T_ASSERT(symlink(path, link) == 0);
    snprintf(spec, sizeof spec, "stm32h753,state=%s", link);
    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_BUSY);
    T_ASSERT(s == NULL);

    T_EQ_INT(end_child(&c), 0);
    snprintf(lock, sizeof lock, "%s.lock", path);
    T_EQ_INT(file_size(lock), -1); /* removed by its holder */
    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    s = mk(spec);
    T_ASSERT(s != NULL);
    T_EQ_INT(file_size(lock), 0);
    T_OK(dfu_sim_read_mem(s, 0x08020000, back, sizeof pattern, &e_), e_);
    T_EQ_MEM(back, pattern, sizeof pattern);
    dfu_sim_free(s);
    T_EQ_INT(file_size(lock), -1);
    remove(link);
    cleanup(path);
    return 0;
}

/* SIGKILL after completed requests: the next process finds what they wrote, including the
 * H7 once-per-erase state of the programmed flash words. */
static int test_killed_process_keeps_writes(void)
{
    char path[128], lock[140], spec[256];
    struct child c;
    uint8_t back[1024];
    int status;

    tmpname(path, sizeof path, "kill");
    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    fill_pattern();
    T_EQ_INT(start_child(&c, spec, child_flash, 0), 0);
    status = end_child(&c);
    T_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* the killed process left its FILE.lock behind, unlocked: no obstacle */
    snprintf(lock, sizeof lock, "%s.lock", path);
    T_EQ_INT(file_size(lock), 0);
    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_read_mem(s, 0x08020000, back, sizeof pattern, &e_), e_);
    T_EQ_MEM(back, pattern, sizeof pattern);
    T_OK(dfu_sim_read_mem(s, 0x24040000, back, 64, &e_), e_);
    T_EQ_MEM(back, pattern, 64);
    T_EQ_INT(write_at(s, 0x08020000, pattern, 32), DFU_STATUS_ERR_PROG);
    dfu_sim_free(s);
    cleanup(path);
    return 0;
}

/* Compare every persisted byte of @a with a fresh simulator over the same file. */
static int same_as_file(dfu_sim *a, const char *spec)
{
    static const uint32_t areas[][2] = {
        {0x08000000, 1024 * 1024}, /* F405 flash */
        {0x20000000, 128 * 1024},  /* RAM */
        {0x1FFFC000, 16},          /* option bytes */
        {0x1FFF7800, 528},         /* OTP */
    };
    static uint8_t x[1024 * 1024], y[1024 * 1024];
    dfu_sim *b = mk(spec);

    if (b == NULL)
        return 1;
    for (unsigned i = 0; i < sizeof areas / sizeof areas[0]; i++) {
        if (dfu_sim_read_mem(a, areas[i][0], x, areas[i][1], &e_) != 0 ||
            dfu_sim_read_mem(b, areas[i][0], y, areas[i][1], &e_) != 0 ||
            memcmp(x, y, areas[i][1]) != 0) {
            fprintf(stderr, "area 0x%08x differs from the file\n", (unsigned)areas[i][0]);
            dfu_sim_free(b);
            return 1;
        }
    }
    dfu_sim_free(b);
    return 0;
}

/* Every kind of request that changes persisted memory is on disk when it completes (checked
 * by a second simulator in the same process, which shares the lock). */
static int test_each_request_persisted(void)
{
    char path[128], spec[256];
    struct dfu_transport *t = NULL;
    uint8_t d[256], ob[16], st[6];
    size_t n;

    tmpname(path, sizeof path, "each");
    snprintf(spec, sizeof spec, "stm32f405,state=%s", path);
    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    memset(d, 0x5A, sizeof d);

    T_EQ_INT(write_at(s, 0x08004000, d, 256), 0); /* program */
    T_EQ_INT(same_as_file(s, spec), 0);
    T_EQ_INT(erase_page(s, 0x08004000), 0); /* sector erase */
    T_EQ_INT(same_as_file(s, spec), 0);
    T_EQ_INT(write_at(s, 0x08008000, d, 16), 0);
    T_EQ_INT(write_at(s, 0x20004000, d, 200), 0); /* RAM */
    T_EQ_INT(same_as_file(s, spec), 0);
    T_OK(set_alt(s, 2), e_); /* OTP */
    T_EQ_INT(write_at(s, 0x1FFF7800, d, 32), 0);
    T_EQ_INT(same_as_file(s, spec), 0);
    T_OK(set_alt(s, 0), e_);
    uint8_t mass = 0x41; /* mass erase: 16 s of the F405's time */
    T_OK(dnload(s, 0, &mass, 1), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(st[4], DFU_STATE_DNBUSY);
    T_EQ_INT(same_as_file(s, spec), 0);
    struct dfu_ctrl gs = {0xA1, 3, 0, 0, 6};
    T_OK(dfu_sim_control(s, &gs, st, &n, 60000, &e_), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE);
    T_OK(abort_req(s), e_);

    /* option bytes: the device resets after the write */
    T_OK(set_alt(s, 1), e_);
    T_EQ_INT(read_at(s, 0x1FFFC000, ob, 16, &n), 0);
    T_OK(abort_req(s), e_);
    ob[0] = (uint8_t)(ob[0] & ~0x0Cu); /* BOR level */
    T_OK(set_address(s, 0x1FFFC000), e_);
    T_OK(dnload(s, 2, ob, 16), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(same_as_file(s, spec), 0);
    T_OK(dfu_transport_wait_reenumerate(t, 5000, &e_), e_);

    /* read protection set behind the host's back, then read-unprotect */
    T_OK(dfu_sim_inject(s, "rdp1", &e_), e_);
    T_EQ_INT(same_as_file(s, spec), 0);
    uint8_t unprot = 0x92;
    T_OK(dnload(s, 0, &unprot, 1), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(same_as_file(s, spec), 0);
    T_OK(dfu_transport_wait_reenumerate(t, 60000, &e_), e_);

    /* the backdoor */
    T_OK(dfu_sim_write_mem(s, 0x08010000, d, 100, &e_), e_);
    T_EQ_INT(same_as_file(s, spec), 0);
    t->ops->close(t);
    cleanup(path);
    return 0;
}

/* Two simulators of one process over one file: the second open does not fail against the
 * process's own lock, and the file ends up with the changes of both. */
static int test_same_process(void)
{
    char path[128], other[128], spec[256], spec2[256];
    uint8_t a[32], b[32], back[32];

    tmpname(path, sizeof path, "shared");
    tmpname(other, sizeof other, "other");
    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    snprintf(spec2, sizeof spec2, "stm32h753,state=%s", other);
    memset(a, 0xA1, sizeof a);
    memset(b, 0xB2, sizeof b);
    dfu_sim *s1 = mk(spec);
    dfu_sim *s2 = mk(spec);
    dfu_sim *s3 = mk(spec2);
    T_ASSERT(s1 != NULL && s2 != NULL && s3 != NULL);
    T_EQ_INT(write_at(s1, 0x08000000, a, 32), 0);
    T_EQ_INT(write_at(s2, 0x08100000, b, 32), 0);
    T_EQ_INT(write_at(s3, 0x08000000, b, 32), 0);
    dfu_sim_free(s1);
    dfu_sim_free(s2);
    dfu_sim_free(s3);

    s1 = mk(spec);
    T_ASSERT(s1 != NULL);
    T_OK(dfu_sim_read_mem(s1, 0x08000000, back, 32, &e_), e_);
    T_EQ_MEM(back, a, 32);
    T_OK(dfu_sim_read_mem(s1, 0x08100000, back, 32, &e_), e_);
    T_EQ_MEM(back, b, 32);
    dfu_sim_free(s1);
    s3 = mk(spec2);
    T_ASSERT(s3 != NULL);
    T_OK(dfu_sim_read_mem(s3, 0x08000000, back, 32, &e_), e_);
    T_EQ_MEM(back, b, 32);
    dfu_sim_free(s3);
    cleanup(path);
    cleanup(other);
    return 0;
}

/* A symbolic link at the old fixed temporary name is not followed. */
static int test_tmp_symlink_not_followed(void)
{
    char path[128], victim[128], tmp[140], spec[256], text[64];
    uint8_t d[32], back[32];
    struct stat st;

    tmpname(path, sizeof path, "tmplink");
    tmpname(victim, sizeof victim, "victim");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    remove(tmp);
    FILE *f = fopen(victim, "wb");
    T_ASSERT(f != NULL);
    fputs("precious", f);
    fclose(f);
    T_ASSERT(symlink(victim, tmp) == 0);

    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    memset(d, 0x33, sizeof d);
    T_EQ_INT(write_at(s, 0x08000000, d, 32), 0);
    T_OK(dfu_sim_save(s, &e_), e_);
    dfu_sim_free(s);

    T_EQ_INT(read_file(victim, text, sizeof text), 8);
    T_EQ_STR(text, "precious");
    T_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
    s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_read_mem(s, 0x08000000, back, 32, &e_), e_);
    T_EQ_MEM(back, d, 32);
    dfu_sim_free(s);
    remove(victim);
    cleanup(path);
    return 0;
}

/* state= naming a symbolic link: the link stays, the file it points to is updated. A link to
 * a missing file is refused. */
static int test_state_symlink(void)
{
    char target[128], link[128], spec[256];
    uint8_t d[32], back[32];
    struct stat st;
    dfu_sim *s = NULL;

    tmpname(target, sizeof target, "target");
    tmpname(link, sizeof link, "link");
    T_ASSERT(symlink(target, link) == 0);
    snprintf(spec, sizeof spec, "stm32h753,state=%s", link);
    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_IO);
    T_ASSERT(strstr(e_.msg, "symbolic link to a missing file") != NULL);
    FILE *f = fopen(target, "wb"); /* empty: a fresh device */
    T_ASSERT(f != NULL);
    fclose(f);
    s = mk(spec);
    T_ASSERT(s != NULL);
    memset(d, 0x44, sizeof d);
    T_EQ_INT(write_at(s, 0x08000000, d, 32), 0);
    dfu_sim_free(s);
    T_ASSERT(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    T_ASSERT(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
    snprintf(spec, sizeof spec, "stm32h753,state=%s", target);
    s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_read_mem(s, 0x08000000, back, 32, &e_), e_);
    T_EQ_MEM(back, d, 32);
    dfu_sim_free(s);
    remove(link);
    cleanup(target);
    return 0;
}

/* A write cut off at the end of the file (the process died in it) is dropped; what came
 * before it loads, and the next open rewrites the file without it. */
static int test_cut_write_dropped(void)
{
    char path[128], spec[256];
    struct child c;
    uint8_t back[1024];
    long size;

    tmpname(path, sizeof path, "cut");
    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    fill_pattern();
    T_EQ_INT(start_child(&c, spec, child_flash, 0), 0);
    end_child(&c);
    size = file_size(path);
    T_ASSERT(size > 0);
    /* the last request wrote 64 bytes of RAM: cut into it */
    T_ASSERT(truncate(path, size - 20) == 0);

    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_read_mem(s, 0x08020000, back, sizeof pattern, &e_), e_);
    T_EQ_MEM(back, pattern, sizeof pattern);
    T_OK(dfu_sim_read_mem(s, 0x24040000, back, 64, &e_), e_);
    T_EQ_INT(back[0], 0x00);
    T_EQ_INT(back[63], 0x00);
    T_ASSERT(file_size(path) < size - 20);
    dfu_sim_free(s);
    cleanup(path);
    return 0;
}

static const struct t_case cases[] = {
    {"second_process_refused", test_second_process_refused},
    {"killed_process_keeps_writes", test_killed_process_keeps_writes},
    {"each_request_persisted", test_each_request_persisted},
    {"same_process", test_same_process},
    {"tmp_symlink_not_followed", test_tmp_symlink_not_followed},
    {"state_symlink", test_state_symlink},
    {"cut_write_dropped", test_cut_write_dropped},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return t_run(cases, argc, argv);
}
