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

# leave for good: the application starts and the ROM is gone from the bus
if [ $HAVE_DFUSH = 1 ]; then
  APP=$IMG
  if [ "$P" = stm32h753 ]; then
    # h7_seed.elf's initial SP is 0x20020000 > RAM end - 16: ROM 0x90's jump bug. With BOOT0
    # high no leave starts it (design.md 6): dfush must watch the ROM come back and say why
    n=$(enum_count)
    run "dfush flash $(basename $IMG) --leave: ROM came back, exit 1 with the reason" leave_explained
    run "the ROM re-enumerated after that leave" wait_back "$n"
    echo "NOTE: $P h7_seed leave outcome: $(last_leave)"
    APP=/data/app1k.bin@0x08000000 # an application the ROM can start through its vector table
  fi
  run "dfush flash $(basename "$APP") --leave" dfush -d usb flash "$APP" --leave
  run "the device left DFU (dfush)" gone_from_bus
  run "the simulated application runs" sh -c "grep '\"ev\":\"leave\"' /tmp/events.jsonl | tail -1 | grep -q '\"outcome\":\"app_running\"'"
else
  run "dfu-util -s 0x08000000:leave" dfu-util -a 0 -s 0x08000000:4:leave -U /tmp/l.bin
  run "the device left DFU (dfu-util)" gone_from_bus
fi
echo "SUITE_DONE $P failures=$failures"
[ $failures -eq 0 ]
