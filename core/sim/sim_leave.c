/*
 * Leaving DFU and resetting the chip (design.md 6, protocol.md 2.7 and 3).
 *
 * jump=vector (AN3156): MSP = [ADDR], PC = [ADDR+4]; when [ADDR] is not a RAM address the ROM
 * resets the chip instead. jump=branch: PC = ADDR, MSP stays the ROM's. jump=reset: every leave
 * resets the chip. After a reset the chip boots from the address the option-byte model selects
 * for the boot0 level (the pin, or BOOT_ADD0/1, or option bits); with RDP level 2 the ROM can
 * never run again.
 * Cortex-M: the application runs when PC is Thumb (bit 0) inside programmed flash and RAM start
 * <= MSP <= RAM end; otherwise it hard-faults. RISC-V (GD32VF103): there is no stack word; the
 * application runs when PC is an even address inside programmed flash (a reset starts it at the
 * boot address itself).
 */
#include "sim/sim_int.h"

static int ram_block(const dfu_sim *s, uint32_t sp, uint64_t *end)
{
    const struct sim_profile *p = s->p;

    for (unsigned i = 0; i < p->nram; i++) {
        uint64_t e = (uint64_t)p->ram[i].base + p->ram[i].size;
        if (sp >= p->ram[i].base && sp <= e) {
            *end = e;
            return 1;
        }
    }
    return 0;
}

static const char *app_check(dfu_sim *s, uint32_t pc, uint32_t msp)
{
    struct sim_region *f = simi_region_kind(s, SIM_K_FLASH);
    int riscv = s->p->core == SIM_CORE_RISCV;
    uint32_t a = riscv ? pc : pc & ~1u;
    int code = riscv ? (pc & 1u) == 0 : (pc & 1u) != 0;

    if (code && f != NULL && a >= f->base && a - f->base < f->size && simi_flash_programmed(s, a) &&
        (riscv || simi_is_ram(s, msp, 1))) {
        s->mode = DFU_SIM_APP;
        return "app_running";
    }
    s->mode = DFU_SIM_HANG;
    return "hardfault";
}

static void drop(dfu_sim *s)
{
    s->mode = DFU_SIM_GONE;
    s->reenum_at = 0;
    s->busy_until = 0;
    s->reset_at = 0;
}

void simi_enter_rom(dfu_sim *s)
{
    s->mode = DFU_SIM_ROM;
    s->generation++;
    s->reenum_at = 0;
    s->configured = 1;
    s->prog_locked = 0;
    s->feat0 = 0;                  /* the ROM starts at x8 */
    s->layout = simi_ob_layout(s); /* the option bytes loaded at this reset */
    simi_dfu_reset_state(s);
}

/* The chip boots after a reset; fills the MSP/PC it started with; returns the outcome. */
static const char *boot(dfu_sim *s, uint64_t delay_us, uint32_t *msp, uint32_t *pc)
{
    uint32_t at = simi_boot_address(s, s->boot0);
    struct sim_region *r;

    s->layout = simi_ob_layout(s);
    /* RDP level 2: "the MCU does not boot on system memory" (AN2606 4.1). */
    if (simi_rdp_level(s) == 2 && at >= s->p->sys_base && at - s->p->sys_base < s->p->sys_size)
        at = simi_boot_address(s, 0);
    r = simi_region(s, at);
    if (r != NULL && r->kind == SIM_K_SYS) {
        *msp = s->p->rom_msp;
        *pc = at;
        s->mode = DFU_SIM_GONE;
        s->reenum_at = s->now + delay_us + (uint64_t)s->p->connect_ms * 1000u;
        return "rom";
    }
    if (s->p->core == SIM_CORE_RISCV) {
        *msp = 0;
        *pc = at;
    } else {
        *msp = simi_rd32(s, at);
        *pc = simi_rd32(s, at + 4);
    }
    return app_check(s, *pc, *msp);
}

void simi_reset(dfu_sim *s, const char *cause, uint64_t delay_us)
{
    uint32_t msp, pc;
    const char *out;

    drop(s);
    simi_event(s, "\"ev\":\"reset\",\"cause\":\"%s\"", cause);
    out = boot(s, delay_us, &msp, &pc);
    snprintf(s->leave_outcome, sizeof s->leave_outcome, "%s", out);
}

void simi_leave(dfu_sim *s, uint32_t addr)
{
    uint32_t msp, pc;
    uint64_t end;
    const char *out, *via = "jump";
    const struct sim_bug *margin = simi_bug(s, SIM_BUG_SP_MARGIN);

    drop(s);
    if (s->jump == SIM_JUMP_BRANCH) {
        pc = addr;
        msp = s->p->rom_msp;
        out = app_check(s, pc, msp);
    } else if (s->jump == SIM_JUMP_RESET) {
        via = "reset";
        simi_event(s, "\"ev\":\"reset\",\"cause\":\"leave\"");
        out = boot(s, 0, &msp, &pc);
    } else {
        msp = simi_rd32(s, addr);
        pc = simi_rd32(s, addr + 4);
        if (!ram_block(s, msp, &end)) {
            /* AN3156: no executable code at the address -> the device is reset. */
            via = "reset";
            simi_event(s, "\"ev\":\"reset\",\"cause\":\"leave\"");
            out = boot(s, 0, &msp, &pc);
        } else if (margin != NULL && (uint64_t)msp > end - margin->arg) {
            /* STM32H74x/75x ROM V9.0-V9.2: "application stack pointer must be lower than
             * (RAM end - 16 bytes)"; the USB device is gone and the application never runs. */
            s->mode = DFU_SIM_HANG;
            out = "hang";
        } else if (simi_bug(s, SIM_BUG_GO_BROKEN) != NULL) {
            /* STM32H74x rev Y ROM V13.2: "Go command is not working"; only the reset path
             * (an address that does not hold a RAM address) gets the application started. */
            s->mode = DFU_SIM_HANG;
            out = "hang";
        } else {
            out = app_check(s, pc, msp);
        }
    }
    snprintf(s->leave_outcome, sizeof s->leave_outcome, "%s", out);
    simi_event(s,
               "\"ev\":\"leave\",\"address\":%u,\"outcome\":\"%s\",\"pc\":%u,\"msp\":%u,"
               "\"via\":\"%s\"",
               (unsigned)addr, out, (unsigned)pc, (unsigned)msp, via);
}
