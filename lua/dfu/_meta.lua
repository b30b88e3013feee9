---@meta
-- luacheck: ignore (declarations only: the bodies are empty on purpose)
-- LuaLS annotations for the C modules in dfu.so: dfu.core, dfu.image, dfu.sim.
-- Runtime failures return `nil, msg, code` (code = "TIMEOUT", "STATUS", "FORMAT", "RANGE",
-- "NOT_FOUND", "AMBIGUOUS", "ACCESS", "NO_DEVICE", "PIPE", "INTERRUPTED", ...); misuse
-- (wrong argument types or ranges, extra arguments, a closed handle) raises.

---@alias dfu.ErrCode string

---@class dfu.DevInfo
---@field backend string "usb" | "sim"
---@field vid integer
---@field pid integer
---@field bcd_device integer
---@field bcd_dfu integer 0x011A for DfuSe
---@field transfer_size integer wTransferSize
---@field detach_timeout integer ms
---@field attributes integer bmAttributes of the DFU functional descriptor
---@field serial string
---@field product string
---@field path string "B-P.P" (usb) or "sim:PROFILE"
---@field intf integer
---@field alt integer current alternate setting
---@field alt_name string iInterface string of that alt (the DfuSe layout on ST ROMs)
---@field protocol integer bInterfaceProtocol (1 run-time, 2 DFU mode)
---@field dfuse boolean

---@class dfu.LayoutRun
---@field address integer first sector
---@field count integer number of sectors
---@field size integer bytes per sector
---@field type integer DfuSe type letter & 7 (1 readable, 2 erasable, 4 writable)
---@field readable boolean
---@field erasable boolean
---@field writable boolean

---@class dfu.Layout
---@field name string e.g. "Internal Flash"
---@field runs dfu.LayoutRun[]
---@field total integer bytes described

---@class dfu.Status
---@field status integer bStatus
---@field status_name string "OK", "errVERIFY", ...
---@field state integer bState
---@field state_name string "dfuIDLE", ...
---@field poll_timeout integer bwPollTimeout, ms
---@field istring integer

---@class dfu.LastError
---@field code string dfu_err_name ("STATUS", ...)
---@field msg string
---@field status integer last bStatus
---@field status_name string
---@field state integer? last bState, when known
---@field state_name string?
---@field address integer? address in flight, when known
---@field sys integer backend code (libusb error) or errno, 0 if none

---@class dfu.LeaveResult
---@field answered boolean whether the final GETSTATUS got an answer
---@field state integer? bState of that answer
---@field state_name string?
---@field status integer? bStatus of that answer

---@class dfu.AltInfo
---@field alt integer
---@field name string raw iInterface string
---@field layout dfu.Layout? parsed DfuSe layout, if the name is one

-- ---------------------------------------------------------------------------------------
-- dfu.core
-- ---------------------------------------------------------------------------------------

---@class dfu.core
---@field STATUS table<string|integer, integer|string> bStatus names <-> numbers ("errVERIFY" <-> 7)
---@field STATE table<string|integer, integer|string> bState names <-> numbers ("dfuIDLE" <-> 2)
---@field ERR table<string|integer, integer|string> error code names <-> DFU_E_* numbers ("TIMEOUT" <-> -7)
---@field version string
---@field features {libusb: boolean, libelf: boolean} what this build has: the USB backend, the ELF reader
local core = {}

---Whether Ctrl-C stopped the current call of the dfush host (always false elsewhere).
---@return boolean
function core.interrupted() end

---Hold (true) or release (false) Ctrl-C in the dfush host: while held, a Ctrl-C is only
---noted, so a job that has finished can still print its report; releasing a hold that caught
---one makes the host exit with status 130. Returns whether a Ctrl-C arrived while held.
---@param on boolean
---@return boolean
function core.hold_interrupts(on) end

---Whether file descriptor fd (0, 1 or 2) is a terminal.
---@param fd integer
---@return boolean
function core.isatty(fd) end

---Names in a directory, without "." and "..", in no particular order (no shell is involved:
---any character in path is just a character). Raises if path is not a string or holds a NUL.
---@param path string
---@return string[]|nil names
---@return string? msg "PATH: No such file or directory"
---@return dfu.ErrCode? code NOT_FOUND, ACCESS, INVALID (not a directory), NOMEM or IO
function core.listdir(path) end

---Sleep ms milliseconds of real time; Ctrl-C ends it early.
---@param ms integer
---@return true|nil ok
---@return string? msg "interrupted"
---@return dfu.ErrCode? code "INTERRUPTED"
function core.sleep(ms) end

---List DFU interfaces. With no argument, USB only; "sim:PROFILE..." lists that simulated device.
---@param devstr? string device string (design.md 2)
---@return dfu.DevInfo[]|nil infos
---@return string? msg
---@return dfu.ErrCode? code
function core.list(devstr) end

---Open the one device matching a device string (nil or "" = "usb"). For "sim:..." the device
---owns a new simulator, reachable through dev:sim(); closing the device closes it too (and frees
---its state= file for other processes, which get "BUSY" while it is open) unless dev:sim() was
---called.
---@param devstr? string
---@return dfu.Device|nil dev
---@return string? msg
---@return dfu.ErrCode? code
function core.open(devstr) end

---The alt a number or name names in an array of alt tables (dev:alts() form: {alt=, name=,
---layout={name=}}), by Device:find_alt's rule.
---@param alts dfu.AltInfo[]
---@param want integer|string
---@return integer|nil index position in alts
---@return string? msg
---@return dfu.ErrCode? code "NOT_FOUND" or "AMBIGUOUS"
function core.match_alt(alts, want) end

---Parse a DfuSe layout string ("@Internal Flash  /0x08000000/04*016Kg,01*064Kg").
---@param s string
---@return dfu.Layout|nil layout
---@return string? msg
---@return dfu.ErrCode? code
function core.parse_layout(s) end

---@class dfu.Device
local Device = {}

---Close the device (idempotent). Does a best-effort abort to dfuIDLE first (not in run-time
---mode) unless Ctrl-C was pressed. `__close` and `__gc` only release the interface and close
---the transport.
---@return true
function Device:close() end

---@return dfu.DevInfo
function Device:info() end

---The alt settings. With `require "dfu"` loaded, an alt whose string the ROM reports wrongly
---carries the layout of the family descriptor (`alt_layouts`), the ROM's string in `reported`;
---`dev:raw_alts()` (added by `require "dfu"` too) gives them exactly as the device reports them.
---@return dfu.AltInfo[]
function Device:alts() end

---@return integer alt the current alternate setting
function Device:alt() end

---Select an alternate setting by number, or by name as Device:find_alt finds it.
---@param alt integer|string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code "NOT_FOUND", "AMBIGUOUS", ...
function Device:set_alt(alt) end

---The alt a number or name names: a name is a case-insensitive prefix of the alt's name (with
---or without its "@") or of its layout name; a whole name wins over names it only begins.
---@param want integer|string
---@return integer|nil alt
---@return string? msg lists the device's alts (NOT_FOUND) or the candidates (AMBIGUOUS)
---@return dfu.ErrCode? code "NOT_FOUND" or "AMBIGUOUS"
function Device:find_alt(want) end

---@param policy "early"|"spec"
---@return true
function Device:set_poll(policy) end

---@return "early"|"spec"
function Device:poll() end

---Seconds on the transport clock (virtual for the simulator).
---@return number
function Device:now() end

---Control transfers issued through this handle.
---@return integer
function Device:transfers() end

---Details of the most recent failure of a primitive on this handle, nil after a success.
---@return dfu.LastError|nil
function Device:last_error() end

---Receive the C log lines; they are delivered after each C call returns.
---@param fn fun(level: "error"|"warn"|"info"|"debug"|"io", msg: string)|nil nil stops logging
---@param level? "error"|"warn"|"info"|"debug"|"io" most verbose level kept (default "debug")
---@return true
function Device:on_log(fn, level) end

---The simulator behind a simulated device (shared; it stays alive as long as the device, and
---after it until collected).
---@return dfu.Sim|nil
function Device:sim() end

---@return dfu.Status|nil status
---@return string? msg
---@return dfu.ErrCode? code
function Device:getstatus() end

---@return integer|nil state
---@return string state_name_or_msg
---@return dfu.ErrCode? code
function Device:getstate() end

---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:clrstatus() end

---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:abort() end

---CLRSTATUS in dfuERROR, ABORT in the *-IDLE states, wait out busy states.
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:abort_to_idle() end

---DFU_DETACH (never on a DfuSe ROM).
---@param timeout_ms? integer wValue (default 1000)
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:detach(timeout_ms) end

---Run-time mode -> DFU mode (dfush detach): for a device whose DFU interface is in run-time
---mode (info().protocol == 1), GETSTATUS, DFU_DETACH with wValue = wDetachTimeOut, a USB bus
---reset unless the device has bitWillDetach, then this handle holds the device that comes back
---in DFU mode (new info() and alts()). A device in DFU mode is left as it is. A failure that
---lost the device closes the handle.
---@param timeout_ms? integer how long to wait for the DFU-mode device (default 5000)
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code "TIMEOUT" when it did not come back
function Device:detach_and_reopen(timeout_ms) end

---One DFU_DNLOAD request.
---@param block integer wBlockNum 0..65535
---@param data string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:dnload(block, data) end

---One DFU_UPLOAD request.
---@param block integer wBlockNum 0..65535
---@param len integer wLength 0..65535
---@return string|nil data
---@return string? msg
---@return dfu.ErrCode? code
function Device:upload(block, len) end

---Poll GETSTATUS after a DNLOAD until the device leaves dfuDNBUSY/dfuDNLOAD-SYNC.
---@param ceiling_ms? integer default 5000
---@return dfu.Status|nil status
---@return string? msg
---@return dfu.ErrCode? code "STATUS" (see last_error().status), "TIMEOUT", ...
function Device:wait_status(ceiling_ms) end

---DfuSe: the command bytes of UPLOAD block 0 (0x00, 0x21, 0x41, 0x92, ...).
---@return integer[]|nil cmds
---@return string? msg
---@return dfu.ErrCode? code
function Device:get_commands() end

---@param address integer
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:set_address(address) end

---@param address integer an address inside the page/sector to erase
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:erase_page(address) end

---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:mass_erase() end

---Read-unprotect (0x92): the device erases all flash and resets.
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:read_unprotect() end

---DfuSe streamed write in wTransferSize blocks. A write that starts where the previous one
---ended continues the block run without a new SET_ADDRESS, so it can be called per chunk.
---@param address integer
---@param data string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:write(address, data) end

---DfuSe streamed read.
---@param address integer
---@param len integer
---@return string|nil data
---@return string? msg
---@return dfu.ErrCode? code
function Device:read(address, len) end

---DfuSe leave: SET_ADDRESS(address), zero-length DNLOAD, one GETSTATUS. A failing final
---GETSTATUS is the expected end (answered = false).
---@param address integer
---@return dfu.LeaveResult|nil result
---@return string? msg
---@return dfu.ErrCode? code
function Device:leave(address) end

---Plain DFU 1.1: download a whole image (blocks from 0, zero-length DNLOAD, manifestation).
---@param data string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Device:download(data) end

---Plain DFU 1.1: upload until a short frame or maxlen bytes.
---@param maxlen integer
---@return string|nil data
---@return string? msg
---@return dfu.ErrCode? code
function Device:upload_all(maxlen) end

---Wait for the device to come back on the bus and re-attach this handle to it.
---@param timeout_ms? integer default 5000
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code "TIMEOUT" when it did not come back
function Device:reenumerate(timeout_ms) end

---A USB bus reset of the device (the simulator's ROM re-initialises its DFU class; the chip
---keeps running).
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code "NO_DEVICE" when the device has left the bus
function Device:bus_reset() end

-- ---------------------------------------------------------------------------------------
-- dfu.image
-- ---------------------------------------------------------------------------------------

---@class dfu.image
local image = {}

---@class dfu.ImageSegment
---@field address integer
---@field size integer
---@field crc32 integer zlib CRC-32 of the bytes

---@class dfu.Sector
---@field address integer
---@field size integer
---@field type integer DfuSe type bits

---@class dfu.Target
---@field alt integer
---@field name string
---@field image dfu.Image shares memory with (and keeps alive) the parent image

---@class dfu.Suffix
---@field vid integer
---@field pid integer
---@field bcd_device integer
---@field bcd_dfu integer
---@field length integer
---@field crc integer

---@class dfu.WriteOpts
---@field vid? integer suffix idVendor (default 0xFFFF)
---@field pid? integer suffix idProduct (default 0xFFFF)
---@field bcd_device? integer (default 0xFFFF)
---@field alt? integer DfuSe target alt when the image has no targets (default 0)
---@field name? string DfuSe target name
---@field gap_warn? integer bin: warn about gaps larger than this (default 65536)

---Split a FILE@ADDR argument as image.load reads it: the path and the address (nil when there
---is no @ suffix that reads as a number). An address past 32 bits gives nil, msg, "INVALID".
---@param arg string
---@return string|nil path
---@return integer|string|nil base_or_msg
---@return dfu.ErrCode? code
function image.split(arg) end

---Load an image file; the format comes from the content. "file.bin@0x08000000" gives the base
---address of a raw binary (as does opts.base).
---@param path string
---@param opts? {base: integer?}
---@return dfu.Image|nil img
---@return string? msg names the file and line/offset
---@return dfu.ErrCode? code "FORMAT", "NOT_FOUND", ...
function image.load(path, opts) end

---Parse an image from a string.
---@param data string
---@param opts? {base: integer?, name: string?}
---@return dfu.Image|nil img
---@return string? msg
---@return dfu.ErrCode? code
function image.parse(data, opts) end

---@return dfu.Image empty
function image.new() end

---zlib-compatible CRC-32, optionally continuing from crc.
---@param data string
---@param crc? integer
---@return integer
function image.crc32(data, crc) end

---@param data string
---@return "elf"|"ihex"|"srec"|"dfuse"|"bin"|nil
function image.detect(data) end

---@class dfu.Image
local Image = {}

---@return "elf"|"ihex"|"srec"|"dfuse"|"bin"|nil
function Image:format() end

---@return dfu.ImageSegment[]
function Image:segments() end

---Bytes of segment i (1-based).
---@param i integer
---@return string
function Image:data(i) end

---@param address integer
---@param len integer
---@return string|nil bytes nil unless the range is fully covered
function Image:bytes(address, len) end

---@return integer|nil
function Image:entry() end

---@param entry integer|nil
---@return true
function Image:set_entry(entry) end

---DfuSe targets (empty for other formats).
---@return dfu.Target[]
function Image:targets() end

---@return dfu.Suffix|nil
function Image:suffix() end

---Add bytes; adjacent data coalesces, overlapping data must agree.
---@param address integer
---@param data string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code "RANGE"
function Image:add(address, data) end

---@param other dfu.Image
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code "RANGE"
function Image:merge(other) end

---@param address integer
---@param len integer
---@return dfu.Image
function Image:slice(address, len) end

---Fill the gaps between segments, making one segment.
---@param byte? integer default 0xFF
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Image:fill_gaps(byte) end

---@param align integer
---@param fill? integer default 0xFF
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Image:pad(align, fill) end

---@return dfu.Image
function Image:clone() end

---@return integer bytes in all segments
function Image:size() end

---Sectors of a layout touched by the image, in address order.
---@param layout dfu.Layout|dfu.LayoutRun[]|string
---@return dfu.Sector[]|nil sectors
---@return string? msg
---@return dfu.ErrCode? code "RANGE" naming the first address outside the layout
function Image:sectors(layout) end

---@param fmt "ihex"|"srec"|"bin"|"dfuse"
---@param opts? dfu.WriteOpts
---@return string|nil data
---@return string? warning_or_msg a warning after success (e.g. large gaps in a .bin)
---@return dfu.ErrCode? code
function Image:encode(fmt, opts) end

---Write a file; the format comes from the extension (.hex .s19 .srec .bin .dfu).
---@param path string
---@param opts? dfu.WriteOpts
---@return true|nil ok
---@return string? warning_or_msg
---@return dfu.ErrCode? code
function Image:save(path, opts) end

-- ---------------------------------------------------------------------------------------
-- dfu.sim
-- ---------------------------------------------------------------------------------------

---@class dfu.sim
local sim = {}

---@return string[] names {"stm32h753", "stm32f405", "stm32f072", ..., "gd32vf103", "dfu11"}
function sim.profiles() end

---A new simulator: "PROFILE[,state=FILE][,events=FILE][,boot0=0|1][,rom=0xNN]
---[,jump=vector|branch|reset][,faults=SPEC][,dnload_stall=N]" (a leading "sim:" is accepted).
---@param spec string
---@return dfu.Sim|nil sim
---@return string? msg
---@return dfu.ErrCode? code
function sim.new(spec) end

---@class dfu.Sim
local Sim = {}

---A device handle over this simulator (it keeps the simulator alive).
---@return dfu.Device|nil dev
---@return string? msg
---@return dfu.ErrCode? code "NO_DEVICE" when the chip is not in its DFU bootloader
function Sim:device() end

---Backdoor read of device memory (no events, no timing).
---@param address integer
---@param len integer
---@return string|nil data
---@return string? msg
---@return dfu.ErrCode? code
function Sim:read(address, len) end

---Backdoor write of device memory.
---@param address integer
---@param data string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Sim:write(address, data) end

---The event log so far, one JSON object per string (design.md 5).
---@return string[]
function Sim:events() end

---@return number seconds of virtual time since power-on
function Sim:now() end

---@param seconds number
---@return true
function Sim:advance(seconds) end

---@return "rom"|"gone"|"app"|"hang"
function Sim:mode() end

---Add faults: "KIND:REQUEST:N;KIND..." (design.md 7).
---@param faults string
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Sim:inject(faults) end

---Save memory to the state= file now.
---@return true|nil ok
---@return string? msg
---@return dfu.ErrCode? code
function Sim:save() end

---@return string
function Sim:profile() end

