# The real-USB suite, run inside the test VM by tests/usb/run (busybox sh), once per simulator
# profile: sh /suite.sh PROFILE. The gadget serves PROFILE on the dummy_hcd bus; dfush (libusb)
# and Debian's dfu-util flash, read and verify through the kernel's USB stack. Prints one
# "PASS: ..." / "FAIL: ..." / "SKIP: ..." line per step, "TIME: ..." lines, and SUITE_DONE.

P=$1
case $P in
stm32h753)
  IMG=/fixtures/h7_seed.elf
  SEGS=/expect/h7_seed.segs
  DFU=/fixtures/h7_seed.dfu
  ;;
stm32f405)
  IMG=/fixtures/f4_config.hex
  SEGS=/expect/f4_config.segs
  DFU=/fixtures/f4_config.dfu
  ;;
*)
  echo "FAIL: unknown profile $P"
  exit 1
  ;;
esac
BIG=0x08080000   # 256 KiB: two 128 KiB sectors on both chips
SMALL=0x080C0000 # one 128 KiB sector on both chips, for the 64 KiB and leave tests
HAVE_DFUSH=0
[ -x /usr/bin/dfush ] && HAVE_DFUSH=1
failures=0

up() { cut -d' ' -f1 /proc/uptime; }

# run NAME CMD...: one step; PASS/FAIL by the exit status, the tail of its output indented
run() {
  name=$1
  shift
  t0=$(up)
  "$@" >/tmp/step.log 2>&1
  r=$?
  t1=$(up)
  DT=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  tr '\r' '\n' </tmp/step.log | grep -v '^[[:space:]]*$' | tail -n 8 | sed 's/^/    /'
  if [ $r -eq 0 ]; then
    echo "PASS: $P $name (${DT}s)"
  else
    echo "FAIL: $P $name (exit $r, ${DT}s)"
    failures=$((failures + 1))
  fi
  return $r
}
# dfush steps are skipped (and say so) while the build has no dfush binary
drun() {
  if [ $HAVE_DFUSH = 1 ]; then
    run "$@"
  else
    echo "SKIP: $P $1 (no dfush binary in this build)"
    return 0
  fi
}

# the enumeration counter the gadget writes on every SET_CONFIGURATION ("rom N" / "gone N")
enum_count() { sed -n 's/^[a-z]* \([0-9]*\)/\1/p' /tmp/ready; }
wait_ready() { # wait_ready REGEX [tenths]
  i=0
  while ! grep -qE "$1" /tmp/ready && [ $i -lt "${2:-100}" ]; do
    sleep 0.1
    i=$((i + 1))
  done
  grep -qE "$1" /tmp/ready
}
wait_back() { # wait until the device went away and enumerated again (count > $1)
  wait_ready '^(gone|rom)' || return 1
  i=0
  while [ $i -lt 150 ]; do
    if grep -q '^rom' /tmp/ready && [ "$(enum_count)" -gt "$1" ]; then
      udevadm settle -t 5 2>/dev/null
      return 0
    fi
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

dev_node() { # /dev/bus/usb node of the 0483:PID device (default df11)
  for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/idVendor" 2>/dev/null)" = 0483 ] || continue
    [ "$(cat "$d/idProduct" 2>/dev/null)" = "${1:-df11}" ] || continue
    printf '/dev/bus/usb/%03d/%03d\n' "$(cat "$d/busnum")" "$(cat "$d/devnum")"
    return 0
  done
  return 1
}
node_perms() {
  n=$(dev_node "$1") || { echo "no 0483:${1:-df11} device in sysfs"; return 1; }
  ls -l "$n"
  ls -l "$n" | grep -q '^crw-rw---- .* plugdev '
}

no_access_hint() { # without permission: exit status 3 and a message naming the udev rules
  su -s /bin/sh nobody -c "dfush -d usb read 0x08000000 1K -o /tmp/n.bin" >/tmp/na.txt 2>&1
  r=$?
  cat /tmp/na.txt
  [ $r -eq 3 ] || { echo "exit status $r, expected 3"; return 1; }
  grep -q '60-dfush.rules' /tmp/na.txt && grep -q 'plugdev' /tmp/na.txt
}
list_dfuutil() {
  dfu-util -l >/tmp/l.txt 2>&1
  cat /tmp/l.txt
  grep -q 'Found DFU: \[0483:df11\]' /tmp/l.txt && grep -q 'name="@Internal Flash' /tmp/l.txt
}
list_dfush() {
  dfush -d usb list >/tmp/l.txt 2>&1
  r=$?
  cat /tmp/l.txt
  [ $r -eq 0 ] && grep -qi '0483:df11' /tmp/l.txt
}
# A second DFU device: another gadget (the other profile, so another serial) on the second
# dummy_hcd controller. Without -d, dfush must refuse to pick one: exit 3, both listed.
two_devices() {
  other=stm32f405
  [ "$P" = stm32f405 ] && other=stm32h753
  rm -f /tmp/ready2
  gadget -u dummy_udc,dummy_udc.1 -w /tmp/ready2 -s "${DFUSH_USB_SCALE:-0.02}" "$other" \
    2>/tmp/gadget2.log &
  g2=$!
  i=0
  while ! grep -q '^rom' /tmp/ready2 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  udevadm settle -t 5 2>/dev/null
  ok=1
  n=$(dfu-util -l 2>/dev/null | grep 'Found DFU: \[0483:df11\]' | grep 'alt=0' | wc -l)
  echo "dfu-util -l: $n DFU devices with alt 0"
  [ "$n" -eq 2 ] || ok=0
  dfush list >/tmp/two-list.txt 2>&1
  cat /tmp/two-list.txt
  [ "$(grep -ci '0483:df11' /tmp/two-list.txt)" -ge 2 ] || { echo "dfush list: not two devices"; ok=0; }
  dfush read 0x08000000 1K -o /tmp/two.bin >/tmp/two.txt 2>&1
  r=$?
  cat /tmp/two.txt
  [ $r -eq 3 ] || { echo "dfush without -d: exit status $r, expected 3"; ok=0; }
  [ ! -e /tmp/two.bin ] || { echo "dfush without -d wrote /tmp/two.bin"; ok=0; }
  # both devices named, each with its own serial and bus path
  [ "$(grep -o 'serial=[^ ;]* path=[^ ;]*' /tmp/two.txt | sort -u | wc -l)" -eq 2 ] ||
    { echo "dfush without -d: the message does not list both devices"; ok=0; }
  kill $g2
  wait $g2
  i=0
  while [ "$(dfu-util -l 2>/dev/null | grep 'Found DFU: \[0483:df11\]' | grep -c 'alt=0')" -ne 1 ]; do
    [ $i -lt 50 ] || { echo "the second device did not leave the bus"; ok=0; break; }
    sleep 0.1
    i=$((i + 1))
  done
  [ $ok = 1 ] || tail -5 /tmp/gadget2.log
  [ $ok = 1 ]
}
leave_explained() { # h7_seed.elf cannot start on ROM 0x90 with BOOT0 high: exit 1, told why
  dfush -d usb flash "$IMG" --leave >/tmp/le.txt 2>&1
  r=$?
  cat /tmp/le.txt
  [ $r -eq 1 ] || { echo "exit status $r, expected 1"; return 1; }
  grep -q 'bootloader came back' /tmp/le.txt && grep -q 'BOOT0' /tmp/le.txt
}
last_leave() { grep '"ev":"leave"' /tmp/events.jsonl | tail -1; }
seed_explained() { # the link with h7_seed.bin and BOOT0 high: exit 74, the bootloader came back
  ldfu -a 0 -s 0x08000000:leave -D /fixtures/h7_seed.bin >/tmp/se.txt 2>&1
  r=$?
  tr '\r' '\n' </tmp/se.txt | grep -v '%' | grep -v '^$' | tail -n 6
  [ $r -eq 74 ] || { echo "exit status $r, expected 74"; return 1; }
  grep -q 'the application did not start' /tmp/se.txt && grep -q 'BOOT0' /tmp/se.txt
}
gone_from_bus() { # the device left and stays away
  wait_ready '^gone' 50 || { echo "the gadget did not drop off the bus"; return 1; }
  sleep 1
  if dfu-util -l 2>&1 | grep -q 'Found DFU: \[0483:df11\]'; then
    echo "still listed after leaving"
    return 1
  fi
  grep '"ev":"leave"' /tmp/events.jsonl | tail -1
}

# read ADDR LEN with either tool into /tmp/r.bin and compare with FILE
dfuutil_cmp() {
  rm -f /tmp/r.bin
  dfu-util -a 0 -s "$1:$2" -U /tmp/r.bin && cmp /tmp/r.bin "$3"
}
dfush_cmp() {
  rm -f /tmp/r.bin
  dfush -d usb read "$1" "$2" -o /tmp/r.bin && cmp /tmp/r.bin "$3"
}
# ---- the dfu-util link (dfush's dfu-util front end) next to Debian's dfu-util 0.11 ----
# ldfu ARGS: dfu-util through the link, the way a tool finds it: first on PATH
LINKDIR=/tmp/dfush-bin
mkdir -p $LINKDIR
[ $HAVE_DFUSH = 1 ] && ln -sf /usr/bin/dfush-dfu-util $LINKDIR/dfu-util
ldfu() { PATH=$LINKDIR:$PATH dfu-util "$@"; }
dev_path() { # the bus-port path of the 0483:PID device (what dfu-util -p takes)
  for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/idVendor" 2>/dev/null)" = 0483 ] || continue
    [ "$(cat "$d/idProduct" 2>/dev/null)" = "${1:-df11}" ] || continue
    basename "$d"
    return 0
  done
  return 1
}
dev_serial() { cat "/sys/bus/usb/devices/$(dev_path "$1")/serial"; }
found_lines() { grep '^Found' "$1" | sed 's/devnum=[0-9]*/devnum=N/'; }
# the -l of the link and of dfu-util 0.11 agree line for line, but for devnum
list_same() {
  dfu-util "$@" >/tmp/l-real.txt 2>&1
  r1=$?
  ldfu "$@" >/tmp/l-link.txt 2>&1
  r2=$?
  echo "dfu-util 0.11 (exit $r1):"
  grep '^Found' /tmp/l-real.txt
  echo "the link (exit $r2):"
  grep '^Found' /tmp/l-link.txt
  found_lines /tmp/l-real.txt >/tmp/l-real.f
  found_lines /tmp/l-link.txt >/tmp/l-link.f
  [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -s /tmp/l-real.f ] && cmp /tmp/l-real.f /tmp/l-link.f
}
# same_memory ADDR LEN EXPECT ARGS...: the link, then dfu-util 0.11, each run ARGS on an
# erased region; both must leave EXPECT there
same_memory() {
  a=$1 n=$2 f=$3
  shift 3
  for tool in link real; do
    dfush -d usb erase "$a" "$n" >/dev/null 2>&1 || { echo "erase failed"; return 1; }
    rm -f /tmp/m-$tool.bin
    if [ $tool = link ]; then ldfu "$@" >/tmp/m.log 2>&1; else dfu-util "$@" >/tmp/m.log 2>&1; fi
    r=$?
    tr '\r' '\n' </tmp/m.log | grep -v '%' | grep -v '^$' | tail -n 3
    [ $r -eq 0 ] || { echo "$tool: exit status $r"; return 1; }
    dfush -d usb read "$a" "$n" -o /tmp/m-$tool.bin >/dev/null 2>&1 || { echo "read back failed"; return 1; }
    cmp /tmp/m-$tool.bin "$f" || { echo "$tool: the device does not hold $f"; return 1; }
  done
  cmp /tmp/m-link.bin /tmp/m-real.bin && echo "both leave $(basename "$f") at $a"
}
same_status() { # same_status STATUS ARGS...: both tools exit with STATUS and leave the device on the bus
  want=$1
  shift
  dfu-util "$@" >/tmp/s-real.txt 2>&1
  r1=$?
  ldfu "$@" >/tmp/s-link.txt 2>&1
  r2=$?
  tail -n 2 /tmp/s-real.txt
  tail -n 2 /tmp/s-link.txt
  echo "dfu-util 0.11: exit $r1, the link: exit $r2"
  [ $r1 -eq "$want" ] && [ $r2 -eq "$want" ] && dfu-util -l 2>/dev/null | grep -q 'Found DFU: .0483:df11'
}
same_upload() { # same_upload ADDR LEN EXPECT: -a 0 -s ADDR:LEN -U with both tools
  rm -f /tmp/u-real.bin /tmp/u-link.bin
  dfu-util -a 0 -s "$1:$2" -U /tmp/u-real.bin >/dev/null 2>&1 && ldfu -a 0 -s "$1:$2" -U /tmp/u-link.bin >/dev/null 2>&1 &&
    cmp /tmp/u-real.bin /tmp/u-link.bin && cmp /tmp/u-link.bin "$3"
}
# labgrid 0.4.1 (Debian 12) in the guest: a USBFlashableDevice matched by udev and a
# FlashScriptDriver running the link with {device.path}
labgrid_flash() {
  mkdir -p /dev/pts
  grep -q ' /dev/pts ' /proc/mounts || mount -t devpts devpts /dev/pts
  d=/sys/bus/usb/devices/$(dev_path)
  product=$(printf '%x/%x/%x' 0x$(cat $d/idVendor) 0x$(cat $d/idProduct) 0x$(cat $d/bcdDevice))
  cat >/tmp/lg.yaml <<EOF2
targets:
  main:
    resources:
      USBFlashableDevice:
        match:
          DEVTYPE: usb_device
          PRODUCT: "$product"
    drivers:
      FlashScriptDriver:
        script: dfu-util
        args: ["-p", "{device.path}", "-a", "0", "-s", "$SMALL", "-D", "/data/r64.bin"]
images:
  dfu-util: /usr/bin/dfush-dfu-util
EOF2
  dfush -d usb erase "$SMALL" 65536 >/dev/null 2>&1
  /usr/bin/python3 /labgrid_flash.py /tmp/lg.yaml >/tmp/lg.log 2>&1
  r=$?
  tr '\r' '\n' </tmp/lg.log | grep -v '%' | grep -v '^$' | tail -n 6
  [ $r -eq 0 ] || { echo "labgrid: exit status $r"; return 1; }
  dfush_cmp "$SMALL" 65536 /data/r64.bin
}

segs_cmp() { # segs_cmp dfuutil_cmp|dfush_cmp: every segment of the image
  while read -r a n f; do
    echo "segment $a +$n"
    $1 "$a" "$n" "$f" || return 1
  done <"$SEGS"
}
first_seg() { head -1 "$SEGS"; }

echo "=== suite $P (dfush: $([ $HAVE_DFUSH = 1 ] && echo yes || echo no))"
if grep -q '^app' /tmp/ready; then
  # the chip runs its application, which has a DFU run-time interface (bitWillDetach)
  run "udev rules cover a DFU run-time interface (class fe/01)" node_perms 5740
  run "dfu-util -l sees the run-time interface" sh -c "dfu-util -l | grep 'Found Runtime: .0483:5740'"
  drun "the dfu-util link's -l matches dfu-util 0.11's (run-time)" list_same -l
  if [ -x /usr/bin/usb-detach-check ]; then
    n=$(enum_count)
    run "dfu_dev_detach_and_reopen: run-time -> DFU mode" usb-detach-check usb:0483:5740
    run "the ROM enumerated after the detach" wait_back "$n"
  else
    echo "SKIP: $P dfu_dev_detach_and_reopen (no usb-detach-check in this build)"
    run "dfu-util -e detaches the application" dfu-util -e -d 0483:5740
    run "the ROM enumerated after the detach" wait_back 1
  fi
fi
run "udev rules give plugdev rw on the device node" node_perms
run "a plugdev user can talk to the device (dfu-util)" su -s /bin/sh dev -c "dfu-util -l | grep -q 'Found DFU: .0483:df11'"
drun "a plugdev user can read with dfush" su -s /bin/sh dev -c "dfush -d usb read 0x08000000 1K -o /tmp/u.bin"
drun "a user outside plugdev is pointed at the udev rules" no_access_hint
run "dfu-util -l lists the DfuSe ROM" list_dfuutil
drun "dfush list (libusb)" list_dfush
drun "the dfu-util link's -l matches dfu-util 0.11's line for line (but devnum)" list_same -l
drun "two DFU devices, no -d: dfush lists both and exits 3" two_devices

# dfush writes the fixture; dfu-util and dfush read it back
drun "dfush flash $(basename $IMG)" dfush -d usb flash "$IMG"
drun "dfu-util reads what dfush wrote" segs_cmp dfuutil_cmp
drun "dfush verify $(basename $IMG)" dfush -d usb verify "$IMG"
drun "dfush read matches the image" segs_cmp dfush_cmp

# the same 256 KiB job with both tools, timed
run "dfu-util -D 256 KiB at $BIG" dfu-util -a 0 -s "$BIG" -D /data/r256a.bin
echo "TIME: $P dfu-util 256 KiB flash: ${DT}s"
run "dfu-util reads its 256 KiB back" dfuutil_cmp "$BIG" 262144 /data/r256a.bin
drun "dfush reads what dfu-util wrote" dfush_cmp "$BIG" 262144 /data/r256a.bin
if drun "dfush flash 256 KiB at $BIG (no verify, as dfu-util)" dfush -d usb flash "/data/r256b.bin@$BIG" --no-verify &&
  [ $HAVE_DFUSH = 1 ]; then
  echo "TIME: $P dfush    256 KiB flash: ${DT}s"
fi
drun "dfu-util reads what dfush wrote (256 KiB)" dfuutil_cmp "$BIG" 262144 /data/r256b.bin

# DfuSe files: a fixture and files made by dfuse-pack, with both tools
drun "dfush flash $(basename $DFU)" dfush -d usb flash "$DFU"
drun "dfu-util reads what dfush wrote (.dfu)" segs_cmp dfuutil_cmp
if [ "$P" = stm32h753 ]; then
  # h7_seed.dfu has a segment at 0x0800BA64, not 8-byte aligned: the H7 ROM refuses such a
  # write (AN2606) and dfu-util does not pad, so only dfush (which pads) takes that file
  echo "NOTE: $P: dfu-util -D h7_seed.dfu is not run (unaligned segment; dfu-util does not pad)"
else
  run "dfu-util -D $(basename $DFU)" dfu-util -a 0 -D "$DFU"
  run "dfu-util reads the .dfu contents back" segs_cmp dfuutil_cmp
  drun "dfush verify after dfu-util wrote the .dfu" dfush -d usb verify "$IMG"
fi
run "dfuse-pack a 64 KiB image" dfuse-pack -b "$SMALL:/data/r64.bin" /tmp/a.dfu
run "dfu-util -D the dfuse-pack file" dfu-util -a 0 -D /tmp/a.dfu
drun "dfush reads what dfu-util wrote (.dfu)" dfush_cmp "$SMALL" 65536 /data/r64.bin
cp /data/r256b.bin /tmp/s.bin
run "dfu-suffix adds a 0483:df11 suffix" dfu-suffix -v 0483 -p df11 -a /tmp/s.bin
drun "dfush flash a raw binary with a DFU suffix" dfush -d usb flash "/tmp/s.bin@$SMALL"
drun "dfu-util reads it back without the suffix" dfuutil_cmp "$SMALL" 262144 /data/r256b.bin

# leave at an address whose first word is not a RAM address: the ROM resets, and with BOOT0
# high the chip comes back as the ROM; the flash survives
n=$(enum_count)
run "dfu-util -s $SMALL:leave (ROM resets)" dfu-util -a 0 -s "$SMALL:leave" -D /data/ff1k.bin
run "the device left and came back as the ROM" wait_back "$n"
set -- $(first_seg)
run "flash kept across the reset (dfu-util)" dfuutil_cmp "$1" "$2" "$3"
drun "dfush lists the device again" list_dfush
# the same, inside one process: the libusb transport re-attaches to the new enumeration
n=$(enum_count)
drun "dfush: leave, ROM resets, wait_reenumerate re-attaches" dfush /reenum.lua "$SMALL"
drun "the ROM re-enumerated during that" wait_back "$n"

# public projects' dfu-util command lines (tests/spec/recipes/dfuutil_spec.lua cites each)
# through the dfu-util link, and the same with dfu-util 0.11: the same memory, statuses, lists
if [ $HAVE_DFUSH = 1 ]; then
  PTH=$(dev_path)
  SER=$(dev_serial)
  echo "NOTE: $P device path $PTH, serial $SER"
  drun "Zephyr find_device: dfu-util -d,0483:df11 -l (same lines)" list_same -d,0483:df11 -l
  drun "labgrid DFUDriver.list: dfu-util -p $PTH --list (same lines)" list_same -p "$PTH" --list
  drun "MicroPython deploy: -a 0 -d 0x0483:0xDF11 -D firmware.dfu (same memory)" \
    same_memory "$SMALL" 65536 /data/r64.bin -a 0 -d 0x0483:0xDF11 -D /tmp/a.dfu
  drun "panda_jungle: -d 0483:df11 -a 0 -s $BIG -D panda_jungle.bin (same memory)" \
    same_memory "$BIG" 262144 /data/r256a.bin -d 0483:df11 -a 0 -s "$BIG" -D /data/r256a.bin
  drun "obot-controller: -a0 -s 0x8000000 -D tmp.bin -S SERIAL (same memory)" \
    same_memory 0x08000000 65536 /data/r64.bin -a0 -s 0x8000000 -D /data/r64.bin -S "$SER"
  # dfu-util 0.11's --wait takes an argument: there --reset is swallowed (the download runs)
  drun "labgrid DFUDriver.download: -p $PTH --wait --reset --alt 0 --download FILE.dfu (same memory)" \
    same_memory "$SMALL" 65536 /data/r64.bin -p "$PTH" --wait --reset --alt 0 --download /tmp/a.dfu
  drun "labgrid DFUDriver.download: -p $PTH --alt 0 --download FILE.dfu (same memory)" \
    same_memory "$SMALL" 65536 /data/r64.bin -p "$PTH" --alt 0 --download /tmp/a.dfu
  drun "labgrid DFUDriver.download of a raw file on the ROM: both exit 64" \
    same_status 64 -p "$PTH" --alt 0 --download /data/r64.bin
  drun "labgrid DFUDriver.detach: -p $PTH --alt 0 --detach: both exit 0, the ROM stays" \
    same_status 0 -p "$PTH" --alt 0 --detach
  drun "uploads: -a 0 -s $BIG:262144 -U with both tools" same_upload "$BIG" 262144 /data/r256a.bin
  if /usr/bin/python3 -c 'import labgrid' >/tmp/lgi.txt 2>&1; then
    drun "labgrid 0.4.1 FlashScriptDriver runs the link on the USBFlashableDevice" labgrid_flash
  else
    echo "SKIP: $P labgrid 0.4.1 FlashScriptDriver ($(tail -n 1 /tmp/lgi.txt))"
  fi
fi

# leave for good: the application starts and the ROM is gone from the bus
if [ $HAVE_DFUSH = 1 ]; then
  if [ "$P" = stm32h753 ]; then
    # h7_seed.elf's initial SP is 0x20020000 > RAM end - 16: ROM 0x90's jump bug. With BOOT0
    # high no leave starts it (design.md 6): dfush must watch the ROM come back and say why
    n=$(enum_count)
    run "dfush flash $(basename $IMG) --leave: ROM came back, exit 1 with the reason" leave_explained
    run "the ROM re-enumerated after that leave" wait_back "$n"
    echo "NOTE: $P h7_seed leave outcome: $(last_leave)"
    # the seed's dfu-util command line through the link: the same, exit 74 with the reason
    n=$(enum_count)
    run "the seed through the link: dfu-util -a 0 -s 0x08000000:leave -D h7_seed.bin exits 74, says why" \
      seed_explained
    run "the ROM re-enumerated after that leave" wait_back "$n"
    # QMK's stm32-dfu line with an application the ROM can start through its vector table
    run "QMK: dfu-util -d 0483:DF11 -a 0 -s 0x08000000:leave -D app1k.bin (link)" \
      ldfu -d 0483:DF11 -a 0 -s 0x08000000:leave -D /data/app1k.bin
  else
    # Klipper's flash_usb.py line with the board's path
    run "Klipper: dfu-util -p $PTH -R -a 0 -s 0x8000000:leave -D f4_config.bin (link)" \
      ldfu -p "$PTH" -R -a 0 -s 0x8000000:leave -D /fixtures/f4_config.bin
  fi
  run "the device left DFU (the dfu-util link)" gone_from_bus
  run "the simulated application runs" sh -c "grep '\"ev\":\"leave\"' /tmp/events.jsonl | tail -1 | grep -q '\"outcome\":\"app_running\"'"
else
  run "dfu-util -s 0x08000000:leave" dfu-util -a 0 -s 0x08000000:4:leave -U /tmp/l.bin
  run "the device left DFU (dfu-util)" gone_from_bus
fi
echo "SUITE_DONE $P failures=$failures"
[ $failures -eq 0 ]
