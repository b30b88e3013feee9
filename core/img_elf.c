/*
 * ELF reader (libelf). Firmware is loaded the way a debugger's "load" does it: every PT_LOAD
 * program header with file bytes goes to its physical address (p_paddr, the load address),
 * p_filesz bytes; sections are ignored. Only 32-bit ARM executables are accepted. From a file
 * (dfu_image_load) libelf reads the headers it needs and segment data is read straight into the
 * image.
 *
 * This is the only file that includes libelf.h.
 */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Where the file's bytes are: in memory (@mem), or in the regular file @fd read as needed. */
struct elf_src {
    const uint8_t *mem;
    int fd;
    const char *path;
};

static int src_io_err(const struct elf_src *src, int e, struct dfu_err *err)
{
    if (err != NULL)
        err->sys = e;
    return dfu_err_set(err, DFU_E_IO, "%s: %s", src->path, strerror(e));
}

/* Read @len bytes at @off from the file into @p; a file that became shorter is an I/O error. */
static int src_pread(const struct elf_src *src, uint8_t *p, size_t len, size_t off,
                     struct dfu_err *err)
{
    while (len > 0) {
        ssize_t r = pread(src->fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return src_io_err(src, errno, err);
        if (r == 0)
            return dfu_err_set(err, DFU_E_IO, "%s: the file became shorter while being read",
                               src->path);
        p += r;
        off += (size_t)r;
        len -= (size_t)r;
    }
    return 0;
}

/* Add @len bytes at file offset @off to @img at @addr. From a file, data that goes after all of
 * the image so far is read straight into it; anything else is read and added as from memory. */
static int src_add(const struct elf_src *src, dfu_image *img, uint32_t addr, size_t off, size_t len,
                   struct dfu_err *err)
{
    if (src->mem != NULL)
        return dfu_image_add(img, addr, src->mem + off, len, err);
    if (addr >= dfui_image_end(img)) {
        uint8_t *where;
        int rc = dfui_image_extend(img, addr, len, &where, err);
        return rc != 0 ? rc : src_pread(src, where, len, off, err);
    }
    uint8_t *tmp = malloc(len);
    if (tmp == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    int rc = src_pread(src, tmp, len, off, err);
    if (rc == 0)
        rc = dfu_image_add(img, addr, tmp, len, err);
    free(tmp);
    return rc;
}

/* The checks that need only the first bytes of the file (@head, all of them or at least
 * EHDR32_LEN) and its length @len. */
static int check_ident(const uint8_t *head, size_t len, const char *name, struct dfu_err *err)
{
    if (len < EI_NIDENT || memcmp(head, ELFMAG, SELFMAG) != 0)
        return dfui_err_off(err, name, 0,
                            len < EI_NIDENT ? "truncated ELF identification" : "not an ELF file");
    if (head[EI_CLASS] != ELFCLASS32)
        return dfui_err_off(err, name, EI_CLASS, "not a 32-bit ELF file (%s)",
                            head[EI_CLASS] == ELFCLASS64 ? "ELFCLASS64" : "unknown class");
    if (head[EI_DATA] != ELFDATA2LSB && head[EI_DATA] != ELFDATA2MSB)
        return dfui_err_off(err, name, EI_DATA, "unknown ELF byte order %u", head[EI_DATA]);
    if (len < EHDR32_LEN)
        return dfui_err_off(err, name, len, "truncated: %zu bytes, the ELF header needs %d", len,
                            EHDR32_LEN);
    return 0;
}

/* The image described by the open ELF @e of @len bytes. */
static int elf_image(Elf *e, size_t len, const struct elf_src *src, const char *name,
                     dfu_image **out, struct dfu_err *err)
{
    dfu_image *img = NULL;
    int rc;

    if (e == NULL || elf_kind(e) != ELF_K_ELF)
        return dfui_err_off(err, name, 0, "corrupt ELF: %s", elf_errmsg(-1));
    Elf32_Ehdr *eh = elf32_getehdr(e);
    if (eh == NULL)
        return dfui_err_off(err, name, 0, "corrupt ELF header: %s", elf_errmsg(-1));
    if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
        return dfui_err_off(err, name, 16, "not an executable: the file is %s",
                            type_name(eh->e_type));
    if (eh->e_machine != EM_ARM)
        return dfui_err_off(err, name, 18, "not an ARM ELF file (e_machine %u)", eh->e_machine);
    size_t phnum = 0;
    if (elf_getphdrnum(e, &phnum) != 0)
        return dfui_err_off(err, name, 44, "corrupt program header count: %s", elf_errmsg(-1));
    if (phnum == 0)
        return dfui_err_off(err, name, 44, "no loadable data: the file has no program headers");
    if (eh->e_phentsize != PHDR32_LEN)
        return dfui_err_off(err, name, 42, "program header size %u, expected %d", eh->e_phentsize,
                            PHDR32_LEN);
    if (eh->e_phoff > len || phnum > (len - eh->e_phoff) / PHDR32_LEN)
        return dfui_err_off(err, name, eh->e_phoff,
                            "truncated: %zu program headers at offset %u run past the end of the "
                            "file (%zu bytes)",
                            phnum, (unsigned)eh->e_phoff, len);
    /* Sections are not loaded, but a section that runs past the end of the file (or a section
     * header table that does) means the file was cut short: refuse it rather than flash what
     * happens to be there. */
    size_t shnum = eh->e_shnum; /* from the header: libelf shrinks it to what fits */
    if (eh->e_shoff != 0) {
        if ((shnum == 0 && elf_getshdrnum(e, &shnum) != 0) || eh->e_shoff > len ||
            (eh->e_shentsize != 0 && shnum > (len - eh->e_shoff) / eh->e_shentsize))
            return dfui_err_off(err, name, eh->e_shoff,
                                "truncated: the section header table at offset %u runs past the "
                                "end of the file (%zu bytes)",
                                (unsigned)eh->e_shoff, len);
        for (size_t i = 1; i < shnum; i++) {
            GElf_Shdr sh;
            Elf_Scn *scn = elf_getscn(e, i);
            if (scn == NULL || gelf_getshdr(scn, &sh) == NULL)
                continue;
            if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > len || sh.sh_size > len - sh.sh_offset))
                return dfui_err_off(err, name, (size_t)sh.sh_offset,
                                    "truncated: section %zu (%llu bytes at file offset %llu) runs "
                                    "past the end of the file (%zu bytes)",
                                    i, (unsigned long long)sh.sh_size,
                                    (unsigned long long)sh.sh_offset, len);
        }
    }
    img = dfu_image_new();
    if (img == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
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
        rc = src_add(src, img, (uint32_t)ph.p_paddr, (size_t)ph.p_offset, (size_t)ph.p_filesz, err);
        if (rc == DFU_E_IO)
            goto done;
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
    return rc;
}

int dfu_image_parse_elf(const uint8_t *buf, size_t len, const char *name, dfu_image **out,
                        struct dfu_err *err)
{
    struct elf_src src = {buf, -1, NULL};
    char *copy = NULL;
    int rc;

    *out = NULL;
    rc = check_ident(buf, len, name, err);
    if (rc != 0)
        return rc;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "libelf: %s", elf_errmsg(-1));
    /* libelf wants a writable buffer; give it a private copy. */
    copy = malloc(len);
    if (copy == NULL)
        return dfu_err_set(err, DFU_E_NOMEM, "out of memory");
    memcpy(copy, buf, len);
    Elf *e = elf_memory(copy, len);
    rc = elf_image(e, len, &src, name, out, err);
    if (e != NULL)
        elf_end(e);
    free(copy);
    return rc;
}

int dfui_load_elf(int fd, size_t size, const char *path, const char *name, dfu_image **out,
                  struct dfu_err *err)
{
    struct elf_src src = {NULL, fd, path};
    uint8_t head[EHDR32_LEN];
    int rc;

    *out = NULL;
    rc = src_pread(&src, head, size < sizeof head ? size : sizeof head, 0, err);
    if (rc != 0)
        return rc;
    rc = check_ident(head, size, name, err);
    if (rc != 0)
        return rc;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return dfu_err_set(err, DFU_E_NOT_SUPPORTED, "libelf: %s", elf_errmsg(-1));
    /* ELF_C_READ: libelf reads the headers it is asked for, nothing else. */
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    rc = elf_image(e, size, &src, name, out, err);
    if (e != NULL)
        elf_end(e);
    return rc;
}
