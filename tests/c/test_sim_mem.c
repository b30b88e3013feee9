/* Simulator memory: program rules, timing model, state file, event log. */
#include <stdio.h>
#include <unistd.h>

#include "test_sim_util.h"

static void tmpname(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/dfush_test_sim_%ld_%s", (long)getpid(), tag);
    remove(buf);
}

/* H7: a 32-byte flash word can be programmed once after an erase. */
static int test_h7_once_per_erase(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t d[64], back[64];

    T_ASSERT(s != NULL);
    memset(d, 0x11, sizeof d);
    T_EQ_INT(erase_page(s, 0x08000000), 0);
    T_EQ_INT(write_at(s, 0x08000000, d, 32), 0);
    T_EQ_INT(write_at(s, 0x08000000, d, 32), DFU_STATUS_ERR_PROG); /* same data, still refused */
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x08000020, d, 32), 0);
    /* a partial word counts as programmed: the rest of it cannot be written later */
    T_EQ_INT(write_at(s, 0x08000040, d, 8), 0);
    T_EQ_INT(write_at(s, 0x08000048, d, 8), DFU_STATUS_ERR_PROG);
    T_OK(clrstatus(s), e_);
    T_OK(dfu_sim_read_mem(s, 0x08000040, back, 32, &e_), e_);
    T_EQ_MEM(back, d, 8);
    T_EQ_INT(back[8], 0xFF);
    /* a fresh erase makes it writable again */
    T_EQ_INT(erase_page(s, 0x08000000), 0);
    T_EQ_INT(write_at(s, 0x08000000, d, 32), 0);
    /* a misaligned address fails, and so does every later program operation (AN2606 4.6),
     * also after a USB reset: only a restart of the ROM clears it */
    T_EQ_INT(write_at(s, 0x08000104, d, 8), DFU_STATUS_ERR_TARGET);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x08000200, d, 32), DFU_STATUS_ERR_PROG);
    T_OK(dfu_sim_bus_reset(s, &e_), e_);
    T_EQ_INT(write_at(s, 0x08000200, d, 32), DFU_STATUS_ERR_PROG);
    T_OK(clrstatus(s), e_);
    T_EQ_INT(write_at(s, 0x24040000, d, 32), 0); /* RAM is not flash programming */
    dfu_sim_free(s);
    return 0;
}

/* F4: bits only go 1 -> 0; writing the same data again is harmless, different data fails. */
static int test_f4_program(void)
{
    dfu_sim *s = mk("stm32f405");
    uint8_t a[16], b[16], back[16];

    T_ASSERT(s != NULL);
    memset(a, 0x0F, sizeof a);
    memset(b, 0xF0, sizeof b);
    T_EQ_INT(write_at(s, 0x08004000, a, 16), 0);
    T_EQ_INT(write_at(s, 0x08004000, a, 16), 0);
    T_EQ_INT(write_at(s, 0x08004000, b, 16), DFU_STATUS_ERR_PROG);
    T_OK(clrstatus(s), e_);
    T_OK(dfu_sim_read_mem(s, 0x08004000, back, 16, &e_), e_);
    T_EQ_INT(back[0], 0x00);
    T_EQ_INT(write_at(s, 0x08004002, a, 4), DFU_STATUS_ERR_TARGET); /* 4-byte alignment */
    dfu_sim_free(s);
    return 0;
}

#define XFER(bytes) (1000u + (bytes))
/* A GETSTATUS sent just as a job of `busy` us starts: held until the job ends; its own 1 ms
 * runs alongside the wait. */
#define HELD(busy, bytes) (((busy) > 1000u ? (busy) : 1000u) + (bytes))

/* Virtual time of SET_ADDRESS + erase + one 1 KiB write on the H753 equals the model. */
static int test_timing_h7(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t d[1024];
    unsigned poll = 0;
    uint64_t t0, want;

    T_ASSERT(s != NULL);
    memset(d, 0xA5, sizeof d);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(set_address(s, 0x08020000), 0);
    want = XFER(5) + XFER(6) + XFER(6);
    T_EQ_INT(dfu_sim_now_us(s) - t0, want);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(cmd5(s, 0x41, 0x08020000) == 0 ? 0 : 1, 0);
    want = XFER(5) + XFER(6) + HELD(1100000, 6);
    T_EQ_INT(dfu_sim_now_us(s) - t0, want);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(job(s, 2, d, 1024, &poll), 0);
    T_EQ_INT(poll, 5);
    want = XFER(1024) + XFER(6) + HELD(32 * 16, 6);
    T_EQ_INT(dfu_sim_now_us(s) - t0, want);
    dfu_sim_free(s);
    return 0;
}

/* F405 x8 versus x32 (Device Feature byte 0 = 0x03): erase and program busy times. */
static int test_timing_f4_parallelism(void)
{
    dfu_sim *s = mk("stm32f405");
    uint8_t d[2048], feat[4] = {0x03, 0, 0, 0}, back[4];
    unsigned poll = 0;
    uint64_t t0;
    size_t n;

    T_ASSERT(s != NULL);
    memset(d, 0x3C, sizeof d);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(erase_page(s, 0x08000000), 0);
    T_EQ_INT(dfu_sim_now_us(s) - t0, XFER(5) + XFER(6) + HELD(400000, 6));
    T_EQ_INT(set_address(s, 0x08000000), 0);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(job(s, 2, d, 2048, &poll), 0);
    T_EQ_INT(poll, 104);
    T_EQ_INT(dfu_sim_now_us(s) - t0, XFER(2048) + XFER(6) + HELD(2048 * 16, 6));
    /* switch to x32 through the Device Feature alt */
    T_OK(set_alt(s, 3), e_);
    T_EQ_INT(write_at(s, 0xFFFF0000, feat, 4), 0);
    T_OK(abort_req(s), e_);
    T_OK(upload(s, 2, back, 4, &n), e_);
    T_EQ_INT(back[0], 0x03);
    T_OK(abort_req(s), e_);
    T_OK(set_alt(s, 0), e_);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(erase_page(s, 0x08010000), 0); /* 64 KiB sector 4 */
    T_EQ_INT(dfu_sim_now_us(s) - t0, XFER(5) + XFER(6) + HELD(550000, 6));
    T_EQ_INT(set_address(s, 0x08010000), 0);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(job(s, 2, d, 2048, NULL), 0);
    T_EQ_INT(dfu_sim_now_us(s) - t0, XFER(2048) + XFER(6) + HELD(512 * 16, 6));
    dfu_sim_free(s);
    return 0;
}

/* A GETSTATUS during a job waits for its end, or times out and advances by the timeout. */
static int test_busy_timeout(void)
{
    dfu_sim *s = mk("stm32h753");
    uint8_t b[5] = {0x41, 0, 0, 0, 0x08}, st[6];
    struct dfu_ctrl gs = {0xA1, 3, 0, 0, 6};
    size_t n;
    uint64_t t0;

    T_ASSERT(s != NULL);
    T_OK(dnload(s, 0, b, 5), e_);
    T_OK(getstatus(s, st), e_);
    T_EQ_INT(poll_of(st), 1100);
    t0 = dfu_sim_now_us(s);
    T_EQ_INT(dfu_sim_control(s, &gs, st, &n, 500, &e_), DFU_E_TIMEOUT);
    T_EQ_INT(dfu_sim_now_us(s) - t0, 500000);
    T_OK(dfu_sim_control(s, &gs, st, &n, 5000, &e_), e_);
    T_EQ_INT(st[4], DFU_STATE_DNLOAD_IDLE);
    T_EQ_INT(dfu_sim_now_us(s) - t0, 1100000 + 6); /* the answer comes as the job ends */
    dfu_sim_free(s);
    return 0;
}

/* The transport: sleep advances the clock; claim selects the alt. */
static int test_transport(void)
{
    dfu_sim *s = mk("stm32f405");
    struct dfu_transport *t = NULL;
    uint8_t d[2];
    size_t n;

    T_ASSERT(s != NULL);
    T_OK(dfu_sim_transport(s, 1, &t, &e_), e_);
    T_ASSERT(dfu_sim_from_transport(t) == s);
    uint64_t t0 = dfu_transport_now_us(t);
    dfu_transport_sleep_us(t, 250000);
    T_EQ_INT(dfu_transport_now_us(t) - t0, 250000);
    T_OK(t->ops->claim(t, 0, 2, &e_), e_);
    struct dfu_ctrl gi = {0x81, 10, 0, 0, 1};
    T_OK(t->ops->control(t, &gi, d, &n, 1000, &e_), e_);
    T_EQ_INT(d[0], 2);
    T_OK(dfu_transport_reset(t, &e_), e_);
    T_OK(t->ops->control(t, &gi, d, &n, 1000, &e_), e_);
    T_EQ_INT(d[0], 0);
    T_OK(dfu_transport_wait_reenumerate(t, 100, &e_), e_); /* never left: at once */
    t->ops->close(t);
    return 0;
}

static int test_state_file(void)
{
    char path[128];
    uint8_t d[64], back[64];
    FILE *f;

    tmpname(path, sizeof path, "state");
    char spec[256];
    snprintf(spec, sizeof spec, "stm32h753,state=%s", path);
    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    for (int i = 0; i < 64; i++)
        d[i] = (uint8_t)(i + 1);
    T_EQ_INT(write_at(s, 0x08100000, d, 64), 0);
    T_EQ_INT(write_at(s, 0x24050000, d, 64), 0);
    dfu_sim_free(s);

    s = mk(spec);
    T_ASSERT(s != NULL);
    T_OK(dfu_sim_read_mem(s, 0x08100000, back, 64, &e_), e_);
    T_EQ_MEM(back, d, 64);
    T_OK(dfu_sim_read_mem(s, 0x24050000, back, 64, &e_), e_);
    T_EQ_MEM(back, d, 64);
    /* the once-per-erase state survives too */
    T_EQ_INT(write_at(s, 0x08100000, d, 32), DFU_STATUS_ERR_PROG);
    T_OK(dfu_sim_save(s, &e_), e_);
    dfu_sim_free(s);

    /* compact: an almost erased 2 MiB flash plus RAM stays small */
    f = fopen(path, "rb");
    T_ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    T_ASSERT(size > 64 && size < 32 * 1024);

    /* truncated */
    T_ASSERT(truncate(path, size - 10) == 0);
    s = NULL;
    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_FORMAT);
    T_ASSERT(strstr(e_.msg, "truncated") != NULL);
    T_ASSERT(truncate(path, size / 2) == 0);
    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_FORMAT);
    /* the failed load did not overwrite the file */
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    T_EQ_INT(ftell(f), size / 2);
    fclose(f);

    /* corrupt byte -> CRC mismatch */
    s = mk(spec + 0); /* recreate: remove and rebuild */
    T_ASSERT(s == NULL);
    remove(path);
    s = mk(spec);
    T_EQ_INT(write_at(s, 0x08100000, d, 64), 0);
    dfu_sim_free(s);
    f = fopen(path, "r+b");
    fseek(f, 60, SEEK_SET);
    fputc(0x42 ^ 0xFF, f);
    fclose(f);
    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_FORMAT);
    T_ASSERT(strstr(e_.msg, path) != NULL);

    /* another profile's file */
    remove(path);
    s = mk(spec);
    dfu_sim_free(s);
    snprintf(spec, sizeof spec, "stm32f405,state=%s", path);
    T_EQ_INT(dfu_sim_new(spec, &s, &e_), DFU_E_FORMAT);
    T_ASSERT(strstr(e_.msg, "stm32h753") != NULL);

    /* an empty file is a fresh device */
    f = fopen(path, "wb");
    fclose(f);
    s = mk(spec);
    T_ASSERT(s != NULL);
    dfu_sim_free(s);
    remove(path);
    return 0;
}

static int test_events(void)
{
    char path[128], spec[256], line[512];
    FILE *f;
    size_t i = 0;

    tmpname(path, sizeof path, "events");
    snprintf(spec, sizeof spec, "stm32f405,events=%s", path);
    dfu_sim *s = mk(spec);
    uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    T_ASSERT(s != NULL);
    T_EQ_INT(erase_page(s, 0x08008000), 0);
    T_EQ_INT(write_at(s, 0x08008000, d, 8), 0);
    T_EQ_INT(count_events(s, "\"ev\":\"ctrl\""), 9);
    T_ASSERT(last_event(s, "\"ev\":\"erase\",\"address\":134250496,\"size\":16384") != NULL);
    T_ASSERT(last_event(s, "\"ev\":\"program\",\"address\":134250496,\"size\":8") != NULL);
    T_ASSERT(last_event(s, "\"req\":\"DNLOAD\",\"wValue\":2,\"len\":8,\"state\":"
                           "\"dfuDNLOAD-SYNC\"") != NULL);
    T_ASSERT(last_event(s, "\"req\":\"GETSTATUS\",\"wValue\":0,\"len\":6,\"state\":"
                           "\"dfuDNLOAD-IDLE\"") != NULL);
    T_EQ_INT(count_events(s, "\"req\":\"GETSTATUS\",\"wValue\":0,\"len\":6,\"state\":"
                             "\"dfuDNBUSY\""),
             3);
    /* t is virtual seconds: the erase ends after 0.4 s */
    const char *ev = last_event(s, "\"ev\":\"ctrl\"");
    double t = 0;
    T_ASSERT(sscanf(ev, "{\"t\":%lf,", &t) == 1);
    T_ASSERT(t > 0.4 && t < 0.5);
    /* the file holds the same lines */
    f = fopen(path, "r");
    T_ASSERT(f != NULL);
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        T_ASSERT(i < dfu_sim_event_count(s));
        T_EQ_STR(line, dfu_sim_event(s, i));
        i++;
    }
    fclose(f);
    T_EQ_INT(i, dfu_sim_event_count(s));
    dfu_sim_free(s);
    remove(path);
    return 0;
}

/* Every truncation and many single-byte corruptions of a state file either load or fail with
 * DFU_E_FORMAT; none crashes or loads garbage silently past a CRC. */
static int test_state_file_damage(void)
{
    char path[128], spec[256];
    uint8_t d[40], *orig;
    long size;
    FILE *f;

    tmpname(path, sizeof path, "damage");
    snprintf(spec, sizeof spec, "stm32f405,state=%s", path);
    dfu_sim *s = mk(spec);
    T_ASSERT(s != NULL);
    memset(d, 0x42, sizeof d);
    T_EQ_INT(write_at(s, 0x08000000, d, 40), 0);
    dfu_sim_free(s);
    f = fopen(path, "rb");
    T_ASSERT(f != NULL);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    orig = malloc((size_t)size);
    T_ASSERT(orig != NULL && fread(orig, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    for (long cut = 1; cut < size; cut++) {
        f = fopen(path, "wb");
        fwrite(orig, 1, (size_t)cut, f);
        fclose(f);
        s = NULL;
        if (dfu_sim_new(spec, &s, &e_) != DFU_E_FORMAT)
            T_FAIL_("truncated to %ld bytes: loaded", cut);
    }
    for (long at = 0; at < size; at += 3) {
        orig[at] ^= 0x5A;
        f = fopen(path, "wb");
        fwrite(orig, 1, (size_t)size, f);
        fclose(f);
        orig[at] ^= 0x5A;
        s = NULL;
        int rc = dfu_sim_new(spec, &s, &e_);
        if (rc == 0) {
            /* a load that passes the checks has the right content */
            uint8_t b[40];
            T_OK(dfu_sim_read_mem(s, 0x08000000, b, 40, &e_), e_);
            T_EQ_INT(b[0], 0x42);
            T_EQ_INT(b[39], 0x42);
            dfu_sim_free(s);
        } else {
            T_EQ_INT(rc, DFU_E_FORMAT);
        }
    }
    free(orig);
    remove(path);
    return 0;
}

/* events= appends: a second instance adds lines after the first one's. */
static int test_events_append(void)
{
    char path[128], spec[256], line[512];
    int lines = 0;
    size_t total = 0;

    tmpname(path, sizeof path, "events2");
    snprintf(spec, sizeof spec, "dfu11,events=%s", path);
    for (int i = 0; i < 2; i++) {
        dfu_sim *s = mk(spec);
        T_ASSERT(s != NULL);
        T_EQ_INT(getstate(s), DFU_STATE_IDLE);
        total += dfu_sim_event_count(s);
        dfu_sim_free(s);
    }
    FILE *f = fopen(path, "r");
    T_ASSERT(f != NULL);
    while (fgets(line, sizeof line, f) != NULL)
        lines++;
    fclose(f);
    T_EQ_INT(lines, total);
    T_EQ_INT(total, 4); /* power-on reset + GETSTATE, twice */
    remove(path);
    return 0;
}

static const struct t_case cases[] = {
    {"state_file_damage", test_state_file_damage},
    {"events_append", test_events_append},
    {"h7_once_per_erase", test_h7_once_per_erase},
    {"f4_program", test_f4_program},
    {"timing_h7", test_timing_h7},
    {"timing_f4_parallelism", test_timing_f4_parallelism},
    {"busy_timeout", test_busy_timeout},
    {"transport", test_transport},
    {"state_file", test_state_file},
    {"events", test_events},
    {NULL, NULL},
};
T_MAIN(cases)
