/*
 * ELF reader (libelf). Firmware is loaded the way a debugger's "load" does it: every PT_LOAD
 * program header with file bytes goes to its physical address (p_paddr, the load address),
 * p_filesz bytes; sections are ignored. Only 32-bit ARM executables are accepted.
 *
 * This is the only file that includes libelf.h.
 */
#include <libelf.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "img_internal.h"

#define EHDR32_LEN 52
#define PHDR32_LEN 32

static const char *type_name(unsigned t)
{
    switch (t) {
    case ET_REL:
        return "a relocatable object (.o); link it into an executable first";
    case ET_CORE:
        return "a core dump";
    case ET_NONE:
        return "of unknown type (ET_NONE)";
    default:
        return "of an unsupported type";
    }
}

int dfu_image_parse_elf(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                        struct dfu_err *err)
{
    Elf *e = NULL;
    char *copy = NULL;
    dfu_image *img = NULL;
    int rc;

    *out = NULL;
    if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
        return dfui_err_off(err, name, 0,
                            len < EI_NIDENT ? "truncated ELF identification" : "not an ELF file");
    if (buf[EI_CLASS] != ELFCLASS32)
        return dfui_err_off(err, name, EI_CLASS, "not a 32-bit ELF file (%s)",
                            buf[EI_CLASS] == ELFCLASS64 ? "ELFCLASS64" : "unknown class");
    if (buf[EI_DATA] != ELFDATA2LSB && buf[EI_DATA] != ELFDATA2MSB)
        return dfui_err_off(err, name, EI_DATA, "unknown ELF byte order %u", buf[EI_DATA]);
    if (len < EHDR32_LEN)
        return dfui_err_off(err, name, len, "truncated: %zu bytes, the ELF header needs %d", len,
                            EHDR32_LEN);

    /* libelf wants a writable buffer; give it a private copy. */
    copy = malloc(len);
    if (copy == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    memcpy(copy, buf, len);
    if (elf_version(EV_CURRENT) == EV_NONE) {
        rc = dfu_err_set(err, DFU_E_NOT_SUPPORTED, "libelf: %s", elf_errmsg(-1));
        goto done;
    }
    e = elf_memory(copy, len);
    if (e == NULL || elf_kind(e) != ELF_K_ELF) {
        rc = dfui_err_off(err, name, 0, "corrupt ELF: %s", elf_errmsg(-1));
        goto done;
    }
    Elf32_Ehdr *eh = elf32_getehdr(e);
    if (eh == NULL) {
        rc = dfui_err_off(err, name, 0, "corrupt ELF header: %s", elf_errmsg(-1));
        goto done;
    }
    if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
        rc =
            dfui_err_off(err, name, 16, "not an executable: the file is %s", type_name(eh->e_type));
        goto done;
    }
    if (eh->e_machine != EM_ARM) {
        rc = dfui_err_off(err, name, 18, "not an ARM ELF file (e_machine %u)", eh->e_machine);
        goto done;
    }
    size_t phnum = 0;
    if (elf_getphdrnum(e, &phnum) != 0) {
        rc = dfui_err_off(err, name, 44, "corrupt program header count: %s", elf_errmsg(-1));
        goto done;
    }
    if (phnum == 0) {
        rc = dfui_err_off(err, name, 44, "no loadable data: the file has no program headers");
        goto done;
    }
    if (eh->e_phentsize != PHDR32_LEN) {
        rc = dfui_err_off(err, name, 42, "program header size %u, expected %d", eh->e_phentsize,
                          PHDR32_LEN);
        goto done;
    }
    if (eh->e_phoff > len || phnum > (len - eh->e_phoff) / PHDR32_LEN) {
        rc = dfui_err_off(err, name, eh->e_phoff,
                          "truncated: %zu program headers at offset %u run past the end of the "
                          "file (%zu bytes)",
                          phnum, (unsigned)eh->e_phoff, len);
        goto done;
    }
    /* Sections are not loaded, but a section that runs past the end of the file (or a section
     * header table that does) means the file was cut short: refuse it rather than flash what
     * happens to be there. */
    size_t shnum = eh->e_shnum; /* from the header: libelf shrinks it to what fits */
    if (eh->e_shoff != 0) {
        if ((shnum == 0 && elf_getshdrnum(e, &shnum) != 0) || eh->e_shoff > len ||
            (eh->e_shentsize != 0 && shnum > (len - eh->e_shoff) / eh->e_shentsize)) {
            rc = dfui_err_off(err, name, eh->e_shoff,
                              "truncated: the section header table at offset %u runs past the "
                              "end of the file (%zu bytes)",
                              (unsigned)eh->e_shoff, len);
            goto done;
        }
        for (size_t i = 1; i < shnum; i++) {
            GElf_Shdr sh;
            Elf_Scn *scn = elf_getscn(e, i);
            if (scn == NULL || gelf_getshdr(scn, &sh) == NULL)
                continue;
            if (sh.sh_type != SHT_NOBITS &&
                (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)) {
                rc = dfui_err_off(err, name, (size_t)sh.sh_offset,
                                  "truncated: section %zu (%llu bytes at file offset %llu) runs "
                                  "past the end of the file (%zu bytes)",
                                  i, (unsigned long long)sh.sh_size,
                                  (unsigned long long)sh.sh_offset, len);
                goto done;
            }
        }
    }
    img = dfu_image_new();
    if (img == NULL) {
        rc = dfu_err_set(err, DFU_E_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < phnum; i++) {
        /* gelf_getphdr copies the entry: the table need not be aligned in the file (a
         * fuzzed e_phoff showed elf32_getphdr handing out a misaligned array). */
        GElf_Phdr ph;
        if (gelf_getphdr(e, (int)i, &ph) == NULL) {
            rc = dfui_err_off(err, name, eh->e_phoff + i * PHDR32_LEN,
                              "corrupt program header %zu: %s", i, elf_errmsg(-1));
            goto done;
        }
        if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue; /* .bss and other NOBITS-only segments carry no bytes */
        if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
            rc = dfui_err_off(err, name, ph.p_offset,
                              "truncated: segment %zu (%u bytes at file offset %u) runs past the "
                              "end of the file (%zu bytes)",
                              i, (unsigned)ph.p_filesz, (unsigned)ph.p_offset, len);
            goto done;
        }
        rc = dfu_image_add(img, ph.p_paddr, buf + ph.p_offset, ph.p_filesz, err);
        if (rc != 0) {
            if (err != NULL)
                err->offset = (long)ph.p_offset;
            dfu_err_prefix(err, "%s: segment %zu", dfui_name(name), i);
            if (rc == DFU_E_RANGE && err != NULL)
                err->code = rc = DFU_E_FORMAT;
            goto done;
        }
    }
    if (dfu_image_count(img) == 0) {
        rc = dfui_err_off(err, name, eh->e_phoff,
                          "no loadable data (no PT_LOAD program header with file bytes)");
        goto done;
    }
    dfu_image_set_entry(img, eh->e_entry != 0, eh->e_entry);
    dfu_image_set_format(img, DFU_FMT_ELF);
    *out = img;
    img = NULL;
    rc = 0;
done:
    dfu_image_free(img);
    if (e != NULL)
        elf_end(e);
    free(copy);
    return rc;
}
