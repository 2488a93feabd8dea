# usbredir-guest - top-level Makefile
#
#   make              libusbredirguest{,-transport}.a and .so, and the
#                     usbredir-guest command (in build/)
#   make check        the whole test suite: unit and differential tests, the
#                     same under valgrind and under ASan+UBSan (clang), the
#                     threaded ones under ThreadSanitizer (clang), a
#                     bounded libFuzzer run, the real usb-host tier (Debian's
#                     usbredirect in a QEMU VM, tests/realhost/), the
#                     hostile usb-host tier, the soak, exported-symbol,
#                     install and docs checks
#   make run          builds and runs the main job (see README.md)
#   make fixtures     records fixtures/ again (tests/cli/make-fixtures.sh)
#   make fixtures-real  records fixtures/real-*.urgcap again (real usb-host)
#   make fixtures-foreign  records fixtures/foreign-* again: QEMU's own
#                     usb-redir and Linux in a second VM as the usb-guest
#                     (tcpdump and usbmon files, ground truth; minutes, not
#                     part of make check)
#   make bench        figures beside libusbredirparser (docs/benchmarks.md)
#   make soak         1000 connections, 1,000,000 URBs (also in make check)
#   make check-realhost the real usb-host tier alone (tests/realhost/)
#   make check-hostile  the hostile usb-host tier alone (tests/hostile/)
#   make check-wireshark  the Wireshark dissector against tshark (tests/wireshark/)
#   make install      PREFIX=/usr/local DESTDIR= WIRESHARK_PLUGINDIR= (the
#                     dissector goes where Wireshark looks: docs/wireshark.md)
#   make fuzz         FUZZ_SECONDS=600: each fuzz target for that long
#                     (docs/robustness.md); make corpus rebuilds the seeds
#
# Variables: CC, BUILD (output folder), SAN=1 (sanitizers), FUZZ_SECONDS,
# CHECK_FUZZ_SECONDS (make check's fuzz run, 10), RUNNER (make run-tests:
# a command each test runs under), VALGRIND (check-valgrind's valgrind
# command); the environment's URG_REALHOST_ONLY and URG_REALHOST_FIXTURES go
# through to the real usb-host tier.
#
# This file builds; the tiers of make check are scripts (each says at its
# top what it runs and what it needs), run by the targets of the same names:
#   tests/tiers/unit.sh      check-unit, run-tests: every test binary, the
#                            examples, tests/cli/run.sh, test_usbip
#   tests/tiers/valgrind.sh  check-valgrind: unit.sh under valgrind
#   tests/tiers/asan.sh      check-asan: unit.sh's tests built with
#                            ASan+UBSan (build-asan) and run
#   tests/tiers/clang.sh     check-clang: everything built with clang
#   tests/tiers/tsan.sh      check-tsan: the threaded tests (the command
#                            queue, its stress of 1,000,000 URBs) built
#                            with ThreadSanitizer (build-tsan) and run
#   tests/tiers/realhost.sh  check-realhost, fixtures-real (tests/realhost/)
#   tests/hostile/run.sh     check-hostile (tests/hostile/)
#   tests/tiers/wireshark.sh check-wireshark: the dissector (tools/wireshark/)
#                            in tshark: each type's count each way equals
#                            `usbredir-guest stats` on every fixture, every
#                            field of every type under every caps layout,
#                            hostile streams (tests/wireshark/)
#   tests/tiers/fuzz.sh      check-fuzz, fuzz: each libFuzzer target
#   tests/tiers/soak.sh      soak: the soak, plain and with ASan+UBSan
#   tests/tiers/symbols.sh   check-symbols: only urg_ symbols, the sonames
#   tests/tiers/install.sh   check-install: install to DESTDIR, build on it,
#                            the dissector where Wireshark loads it
#   tests/tiers/docs.sh      check-docs: the man page and docs/transport.md,
#                            the installed headers' error lists
#   tests/bench/run.sh       bench
# make check runs the tiers one after another (the check target, below).

VERSION    := 0.1.0
SOVERSION  := 0
LIBNAME    := libusbredirguest
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
BUILD      ?= build
FUZZ_SECONDS ?= 30
CHECK_FUZZ_SECONDS ?= 10

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L
OPT     ?= -O2 -g
ifeq ($(SAN),1)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
endif
# TSAN=1: ThreadSanitizer (the check-tsan tier, tests/tiers/tsan.sh).
ifeq ($(TSAN),1)
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=thread
endif
CFLAGS  ?=
# The model's command queue (hcd-model/queue.c) takes a pthread mutex.
PTHREAD := -pthread
ALL_CFLAGS := $(CSTD) $(WARN) $(OPT) $(PTHREAD) $(CFLAGS)
# Each compile of one source writes the headers it read (a .d beside its
# output), included at the end of this file: an object or test is rebuilt
# when a header it includes changes.
DEPFLAGS := -MMD -MP
LIB_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden -Iguest -Ihcd-model

# The library: the engine (guest/) and the host-controller model
# (hcd-model/, which uses only the engine's headers: urg_guest.h and the
# project's urg_codec.h).
GUEST_SRC := $(sort $(wildcard guest/*.c))
HCD_SRC   := $(sort $(wildcard hcd-model/*.c))
LIB_SRC   := $(GUEST_SRC) $(HCD_SRC)
LIB_HDR   := $(wildcard guest/*.h hcd-model/*.h)
LIB_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
PUBLIC_HEADERS := guest/urg_guest.h hcd-model/urg_hcd.h transport/urg_transport.h \
	transport/urg_capture.h transport/urg_hcd_transport.h

STATIC := $(BUILD)/$(LIBNAME).a
SHARED := $(BUILD)/$(LIBNAME).so.$(VERSION)

# The transport library (libev I/O, captures, replay): apart, so that users
# of the engine and the model never link libev or libpcap.
TR_LIBNAME := $(LIBNAME)-transport
TR_SRC     := $(sort $(wildcard transport/*.c))
TR_HDR     := $(wildcard transport/*.h)
TR_OBJ     := $(patsubst %.c,$(BUILD)/%.o,$(TR_SRC))
TR_LIBS    := -lev -lpcap
TR_STATIC  := $(BUILD)/$(TR_LIBNAME).a
TR_SHARED  := $(BUILD)/$(TR_LIBNAME).so.$(VERSION)

.PHONY: all lib tool check run install uninstall clean fuzz tests corpus fixtures \
	check-unit check-valgrind check-asan check-fuzz check-symbols check-install \
	check-clang check-docs run-tests check-realhost fixtures-real fixtures-foreign bench soak \
	check-tsan wireshark check-wireshark

all: lib tool wireshark
lib: $(STATIC) $(SHARED) $(TR_STATIC) $(TR_SHARED)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c $< -o $@

# Sockets and pcap.h need the BSD and GNU names (_DEFAULT_SOURCE). The
# transport knows the engine, not the model: only the adapter between them
# (hcd_peer.c, urg_hcd_transport.h) sees hcd-model/.
TR_CFLAGS := $(ALL_CFLAGS) -fPIC -fvisibility=hidden -D_DEFAULT_SOURCE -Iguest -Itransport
$(BUILD)/transport/%.o: transport/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TR_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/transport/hcd_peer.o: transport/hcd_peer.c
	@mkdir -p $(dir $@)
	$(CC) $(TR_CFLAGS) -Ihcd-model $(DEPFLAGS) -c $< -o $@

# An object with no .d yet but built already (a build folder from before
# DEPFLAGS) depends on every header of the libraries, once.
NODEP_OBJ := $(foreach o,$(LIB_OBJ) $(TR_OBJ),$(if $(wildcard $(o:.o=.d)),,$(o)))
$(NODEP_OBJ): $(LIB_HDR) $(TR_HDR)

$(BUILD)/exports.map:
	@mkdir -p $(BUILD)
	printf '{\n  global: urg_*;\n  local: *;\n};\n' > $@

# The static library is one relocatable object whose hidden (internal)
# symbols are made local, so it too exposes only urg_ names.
$(STATIC): $(LIB_OBJ)
	$(LD) -r $(LIB_OBJ) -o $(BUILD)/urg_all.o
	objcopy --localize-hidden $(BUILD)/urg_all.o
	rm -f $@ && $(AR) rcs $@ $(BUILD)/urg_all.o

$(SHARED): $(LIB_OBJ) $(BUILD)/exports.map
	$(CC) -shared $(OPT) -Wl,-soname,$(LIBNAME).so.$(SOVERSION) \
		-Wl,--version-script=$(BUILD)/exports.map -o $@ $(LIB_OBJ) $(PTHREAD)
	ln -sf $(LIBNAME).so.$(VERSION) $(BUILD)/$(LIBNAME).so.$(SOVERSION)
	ln -sf $(LIBNAME).so.$(SOVERSION) $(BUILD)/$(LIBNAME).so

$(TR_STATIC): $(TR_OBJ)
	$(LD) -r $(TR_OBJ) -o $(BUILD)/urg_transport_all.o
	objcopy --localize-hidden $(BUILD)/urg_transport_all.o
	rm -f $@ && $(AR) rcs $@ $(BUILD)/urg_transport_all.o

$(TR_SHARED): $(TR_OBJ) $(SHARED) $(BUILD)/exports.map
	$(CC) -shared $(OPT) -Wl,-soname,$(TR_LIBNAME).so.$(SOVERSION) \
		-Wl,--version-script=$(BUILD)/exports.map -o $@ $(TR_OBJ) \
		-L$(BUILD) -l:$(LIBNAME).so.$(SOVERSION) $(TR_LIBS)
	ln -sf $(TR_LIBNAME).so.$(VERSION) $(BUILD)/$(TR_LIBNAME).so.$(SOVERSION)
	ln -sf $(TR_LIBNAME).so.$(SOVERSION) $(BUILD)/$(TR_LIBNAME).so

# ---------------------------------------------------------------- the command

# tools/usbredir-guest: the command-line program, on the two libraries. The
# captures it runs against with no address are compiled in.
TOOL        := $(BUILD)/usbredir-guest
TOOL_SRC    := $(sort $(wildcard tools/usbredir-guest/*.c))
TOOL_OBJ    := $(patsubst %.c,$(BUILD)/%.o,$(TOOL_SRC)) $(BUILD)/tools/fixtures.o
TOOL_CFLAGS := $(ALL_CFLAGS) -D_DEFAULT_SOURCE -Iguest -Ihcd-model -Itransport -Itools/usbredir-guest
# libmd (Debian's libmd-dev, <md5.h>): the md5 msc prints; the command's
# alone, the libraries do not link it.
TOOL_LIBS   := $(TR_LIBS) -lmd
BUNDLED     := keyboard-lsusb keyboard-hid msc-read ftdi-serial
BUNDLED_CAP := $(patsubst %,fixtures/%.urgcap,$(BUNDLED))

tool: $(TOOL)

$(BUILD)/tools/fixtures.c: tools/usbredir-guest/embed.sh $(wildcard $(BUNDLED_CAP))
	@mkdir -p $(dir $@)
	tools/usbredir-guest/embed.sh $@ $(foreach f,$(BUNDLED),$(f)=fixtures/$(f).urgcap)

$(BUILD)/tools/usbredir-guest/%.o: tools/usbredir-guest/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TOOL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/tools/fixtures.o: $(BUILD)/tools/fixtures.c
	$(CC) $(TOOL_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(TOOL): $(TOOL_OBJ) $(STATIC) $(TR_STATIC)
	$(CC) $(OPT) $(CFLAGS) $(TOOL_OBJ) $(TR_STATIC) $(STATIC) $(TOOL_LIBS) $(PTHREAD) -o $@

# ---- the Wireshark dissector (tools/wireshark/, docs/wireshark.md): the
# Lua plugin is its template with the table of packet types written in by
# make-lua from the library's own rows (guest/packet_types.c), checked
# there against the codec's layouts.
WS_LUA  := $(BUILD)/wireshark/usbredir.lua
WS_MAKE := $(BUILD)/wireshark/make-lua
$(WS_MAKE): tools/wireshark/make-lua.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iguest $(DEPFLAGS) $< $(STATIC) $(PTHREAD) -o $@
$(WS_LUA): $(WS_MAKE) tools/wireshark/usbredir.lua.in
	$(WS_MAKE) tools/wireshark/usbredir.lua.in $@
wireshark: $(WS_LUA)
# ---- end of the Wireshark dissector

# The emulated usb-host as a program, for the command's tests and fixtures.
EMUHOST := $(BUILD)/tests/emuhost-server
$(EMUHOST): tests/tools/emuhost-server.c $(BUILD)/tests/support/emuhost.o $(LIB_OBJ) $(TR_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) $< $(BUILD)/tests/support/emuhost.o $(LIB_OBJ) $(TR_OBJ) \
		$(TR_LIBS) -o $@

PCAP_FINS := $(BUILD)/tests/pcap-fins
$(PCAP_FINS): tests/tools/pcap-fins.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_DEFAULT_SOURCE $< -lpcap -o $@

# The model's usbmon capture read back with libpcap (tests/cli --usbmon).
USBMON_READ := $(BUILD)/tests/usbmon-read
$(USBMON_READ): tests/tools/usbmon-read.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_DEFAULT_SOURCE $< -lpcap -o $@

# usbmon captures made for the command's tests and fixtures: merged,
# renumbered, in the 48-byte form, and a synthesized iso device
# (tests/support/usbmonw.c).
USBMON_MAKE := $(BUILD)/tests/usbmon-make
$(USBMON_MAKE): tests/tools/usbmon-make.c tests/support/usbmonw.c tests/support/usbmonw.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_DEFAULT_SOURCE -Itests/support $< tests/support/usbmonw.c -lpcap -o $@

# Records fixtures/ again with the command against the emulated host, then
# rebuilds the command with them (tests/cli/make-fixtures.sh says how).
fixtures: $(TOOL) $(EMUHOST) $(USBMON_MAKE)
	tests/cli/make-fixtures.sh $(BUILD)
	$(MAKE) --no-print-directory tool

# ---------------------------------------------------------------- tests

TEST_CFLAGS := $(ALL_CFLAGS) -D_DEFAULT_SOURCE -Iguest -Ihcd-model -Itransport -Itests/support
TEST_LIBS   := $(TR_LIBS) -lcmocka
ALL_OBJ     := $(LIB_OBJ) $(TR_OBJ)
SUPPORT_SRC := $(wildcard tests/support/*.c)
SUPPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(SUPPORT_SRC))
# The unit tests: each folder's test_*.c, in this order (one rule, below).
UNIT_DIRS   := tests/guest tests/hcd tests/transport
UNIT_BIN    := $(strip $(foreach d,$(UNIT_DIRS),\
	$(patsubst $(d)/%.c,$(BUILD)/tests/%,$(sort $(wildcard $(d)/test_*.c)))))
DIFF_BIN    := $(BUILD)/tests/test_diff_reference $(BUILD)/tests/test_diff_filter
EXAMPLES    := $(BUILD)/examples/engine_demo $(BUILD)/examples/vmm_enumerate \
	$(BUILD)/examples/transport_keyboard
TEST_BINS   := $(UNIT_BIN) $(DIFF_BIN)

REF_CFLAGS  := $(shell pkg-config --cflags libusbredirparser-0.5 2>/dev/null)
REF_LIBS    := $(shell pkg-config --libs libusbredirparser-0.5 2>/dev/null || echo -lusbredirparser)

# The test support code (tests/support/), compiled once per build.
$(BUILD)/tests/support/%.o: tests/support/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -c $< -o $@

# One rule for the unit tests (UNIT_DIRS) and the differential tests
# (tests/diff, which also take the reference, libusbredirparser). Tests
# link the library's objects (not the sealed archive), so they can also
# reach internals; the archive and the .so are checked by check-symbols and
# check-install.
vpath test_%.c $(UNIT_DIRS) tests/diff
$(DIFF_BIN): TEST_REF_CFLAGS = $(REF_CFLAGS)
$(DIFF_BIN): TEST_REF_LIBS = $(REF_LIBS)
$(BUILD)/tests/test_%: test_%.c $(SUPPORT_OBJ) $(ALL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(TEST_REF_CFLAGS) $(DEPFLAGS) $< $(SUPPORT_OBJ) $(ALL_OBJ) \
		$(TEST_REF_LIBS) $(TEST_LIBS) -o $@

# ---- the command's parsers of what a usb-host sends (tools/usbredir-guest/
# parse.h: text.c, parse.c, describe.c need no connection, and of the
# library only its escaper, guest/escape.c): their unit test, run by
# run-tests with the others (so under valgrind and ASan+UBSan too), and
# their fuzz target ($(FUZZ_BUILD)/fuzz_tools, below).
TOOL_PARSE_SRC := tools/usbredir-guest/text.c tools/usbredir-guest/parse.c \
	tools/usbredir-guest/describe.c guest/escape.c
TOOL_PARSE_HDR := tools/usbredir-guest/parse.h
TOOL_TEST_BIN  := $(BUILD)/tests/test_parse
$(TOOL_TEST_BIN): tests/tools/test_parse.c $(TOOL_PARSE_SRC) $(TOOL_PARSE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_DEFAULT_SOURCE -Iguest -Itools/usbredir-guest $< $(TOOL_PARSE_SRC) \
		-lcmocka -o $@
TEST_BINS += $(TOOL_TEST_BIN)
tests: $(TOOL_TEST_BIN)
# ---- end of the command's parsers

$(BUILD)/examples/transport_keyboard: docs/examples/transport_keyboard.c $(STATIC) $(TR_STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< $(TR_STATIC) $(STATIC) $(TR_LIBS) -o $@

$(BUILD)/examples/%: docs/examples/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $< $(STATIC) -o $@

tests: $(TEST_BINS) $(EXAMPLES) $(TOOL) $(EMUHOST) $(PCAP_FINS) $(USBMON_READ) $(USBMON_MAKE)

# ---- the Wireshark tier (tests/tiers/wireshark.sh): the dissector in
# tshark over the fixtures, exported to pcap, and over the captures
# tests/wireshark/cases.c writes (every type under every layout, odd
# streams, hostile ones).
WS_CASES := $(BUILD)/tests/wireshark-cases
$(WS_CASES): tests/wireshark/cases.c $(BUILD)/tests/support/packets.o $(ALL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) $< $(BUILD)/tests/support/packets.o $(ALL_OBJ) \
		$(TR_LIBS) -o $@
tests: $(WS_CASES) $(WS_LUA)
check-wireshark: $(TOOL) $(WS_LUA) $(WS_CASES)
	@tests/tiers/wireshark.sh $(BUILD)
# ---- end of the Wireshark tier

# The real usb-host: Debian's usbredirect in a QEMU VM (tests/realhost/).
# image.sh builds the VM image once and caches it; the test boots it.
# Linux's own USB/IP client (vhci-hcd in a second VM) against the bridge,
# `usbredir-guest usbip` (tests/realhost/test_usbip_linux.c). Both on the
# VM driver, tests/realhost/vm.c.
REALHOST_BIN    := $(BUILD)/tests/test_realhost
USBIP_LINUX_BIN := $(BUILD)/tests/test_usbip_linux
FOREIGN_BIN     := $(BUILD)/tests/record_foreign
VM_OBJ          := $(BUILD)/tests/realhost/vm.o
$(VM_OBJ): tests/realhost/vm.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itests/realhost $(DEPFLAGS) -c $< -o $@
$(REALHOST_BIN) $(USBIP_LINUX_BIN) $(FOREIGN_BIN): $(BUILD)/tests/%: tests/realhost/%.c $(VM_OBJ) \
		$(SUPPORT_OBJ) $(ALL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) -Itests/realhost $(DEPFLAGS) $< $(VM_OBJ) $(SUPPORT_OBJ) $(ALL_OBJ) \
		$(TEST_LIBS) -lm -o $@

check-realhost: $(REALHOST_BIN) $(USBIP_LINUX_BIN) $(TOOL) $(WS_LUA) $(PCAP_FINS)
	@tests/tiers/realhost.sh $(BUILD)

# Records the fixtures of real traffic (fixtures/real-*.urgcap) again: the
# command's tests of the real-host tier, keeping their recordings.
fixtures-real: $(REALHOST_BIN) $(USBIP_LINUX_BIN) $(TOOL) $(WS_LUA) $(PCAP_FINS)
	URG_REALHOST_FIXTURES=$(CURDIR)/fixtures URG_REALHOST_ONLY='test_cli_*' \
		tests/tiers/realhost.sh $(BUILD)

# Records fixtures/foreign-* again: QEMU's own usb-redir in a second VM,
# driven by its Linux, against usbredirect in the device VM, captured with
# tcpdump (imported) and QEMU's pcap= (tests/realhost/record_foreign.c).
# Built with the tests (so it keeps compiling), run only by this target.
tests: $(FOREIGN_BIN)
fixtures-foreign: $(FOREIGN_BIN) $(TOOL) $(PCAP_FINS)
	URG_REALHOST_IMAGE=$$(tests/realhost/image.sh) URG_REALHOST_DIR=$(CURDIR)/$(BUILD)/realhost \
		URG_TOOL=$(CURDIR)/$(TOOL) URG_PCAP_FINS=$(CURDIR)/$(PCAP_FINS) $(FOREIGN_BIN) \
		$(CURDIR)/fixtures

# ---- the hostile usb-host tier (tests/hostile/): every device command and
# the transport example against a usb-host that misbehaves on purpose
# (tests/hostile/hostile-host.c) under a supervisor (tests/hostile/supervise.c);
# tests/hostile/run.sh says what it asserts. `make check` runs it with the
# ASan+UBSan build (BUILD=build-asan CC=clang SAN=1), as check-realhost.
HOSTILE_HOST := $(BUILD)/tests/hostile-host
SUPERVISE    := $(BUILD)/tests/supervise
.PHONY: check-hostile
$(HOSTILE_HOST): tests/hostile/hostile-host.c $(BUILD)/tests/support/emuhost.o $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) $< $(BUILD)/tests/support/emuhost.o $(LIB_OBJ) -lev -o $@
$(SUPERVISE): tests/hostile/supervise.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $< -o $@
tests: $(HOSTILE_HOST) $(SUPERVISE)
check-hostile: $(HOSTILE_HOST) $(SUPERVISE) $(TOOL) $(BUILD)/examples/transport_keyboard
	tests/hostile/run.sh $(BUILD)
# ---- end of the hostile usb-host tier

# ---- the USB/IP server (tools/usbredir-guest/usbip.c): a USB/IP client
# written here drives it against the emulated host (tests/usbip/), the
# server under RUNNER; its protocol code (usbip_wire.c) has a unit test
# among TEST_BINS and a fuzz target (fuzz_usbip). Linux's own client drives
# it in tests/realhost.
USBIP_WIRE     := tools/usbredir-guest/usbip_wire.c tools/usbredir-guest/usbip_wire.h
USBIP_TEST_BIN := $(BUILD)/tests/test_usbip
$(USBIP_TEST_BIN): tests/usbip/test_usbip.c $(USBIP_WIRE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -D_DEFAULT_SOURCE -Itools/usbredir-guest $< \
		tools/usbredir-guest/usbip_wire.c -lcmocka -o $@
USBIP_WIRE_TEST_BIN := $(BUILD)/tests/test_usbip_wire
$(USBIP_WIRE_TEST_BIN): tests/tools/test_usbip_wire.c $(USBIP_WIRE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itools/usbredir-guest $< tools/usbredir-guest/usbip_wire.c -lcmocka -o $@
TEST_BINS += $(USBIP_WIRE_TEST_BIN)
tests: $(USBIP_TEST_BIN) $(USBIP_WIRE_TEST_BIN)
# ---- end of the USB/IP server

# ---------------------------------------------------------------- the tiers

# asan.sh, clang.sh and tsan.sh build in another folder (build-asan,
# build-clang, build-tsan)
# with the make they are given (MAKE: a recursive make, so -j and -n go
# through).
UNIT_ENV  = TEST_BINS="$(TEST_BINS)" EXAMPLES="$(EXAMPLES)"

# Every test binary, the examples and the command's tests (RUNNER may be
# valgrind): tests/tiers/unit.sh.
run-tests: tests
	@$(UNIT_ENV) RUNNER="$(RUNNER)" RUNNER_NAME="$(RUNNER_NAME)" tests/tiers/unit.sh $(BUILD)

check-unit: run-tests

check-valgrind: tests
	@$(UNIT_ENV) tests/tiers/valgrind.sh $(BUILD)

check-asan:
	@MAKE="$(MAKE)" tests/tiers/asan.sh

check-clang:
	@MAKE="$(MAKE)" tests/tiers/clang.sh

check-tsan:
	@MAKE="$(MAKE)" tests/tiers/tsan.sh

# ---------------------------------------------------------------- benchmarks

# Figures, not tests (docs/benchmarks.md): the engine beside the reference
# (libusbredirparser, used here and in the differential test only) and the
# raw limits, in the same run; instruction counts from callgrind.
BENCH_CODEC := $(BUILD)/bench/bench_codec
$(BENCH_CODEC): tests/bench/bench_codec.c $(SUPPORT_OBJ) $(ALL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(REF_CFLAGS) $(DEPFLAGS) $< $(SUPPORT_OBJ) $(ALL_OBJ) $(REF_LIBS) \
		$(TR_LIBS) -o $@

BENCH_SCALE := $(BUILD)/bench/bench_scale
$(BENCH_SCALE): tests/bench/bench_scale.c $(SUPPORT_OBJ) $(ALL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(DEPFLAGS) $< $(SUPPORT_OBJ) $(ALL_OBJ) $(TR_LIBS) -o $@

# The end-to-end benchmark and the soak, on the fast host (fasthost.c).
BENCH_E2E := $(BUILD)/bench/bench_e2e
SOAK      := $(BUILD)/bench/soak
FASTHOST_OBJ := $(BUILD)/bench/fasthost.o
$(FASTHOST_OBJ): tests/bench/fasthost.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(REF_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BENCH_E2E) $(SOAK): $(BUILD)/bench/%: tests/bench/%.c $(FASTHOST_OBJ) $(ALL_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(REF_CFLAGS) $(DEPFLAGS) $< $(FASTHOST_OBJ) $(ALL_OBJ) $(REF_LIBS) \
		$(TR_LIBS) -o $@

# The soak (docs/robustness.md, tests/tiers/soak.sh): this build's, then
# the same built with ASan+UBSan, whose LeakSanitizer reports any leak.
soak: $(SOAK)
	tests/tiers/soak.sh $(BUILD)
	$(MAKE) --no-print-directory build-asan/bench/soak BUILD=build-asan CC=clang SAN=1
	tests/tiers/soak.sh build-asan

bench: $(BENCH_CODEC) $(BENCH_E2E) $(BENCH_SCALE)
	tests/bench/run.sh $(BUILD)

# Built with the tests (every tier's build), so a change that breaks a
# benchmark fails there; they are run only by make bench.
tests: $(BENCH_CODEC) $(BENCH_E2E) $(BENCH_SCALE)

# ---------------------------------------------------------------- fuzzing

FUZZ_BUILD := build-fuzz
FUZZ_FLAGS := $(CSTD) -D_DEFAULT_SOURCE $(WARN) -O1 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Iguest -Itests/support
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Ihcd-model $< $(LIB_SRC) -o $@

# The importer's target takes the transport too (libpcap, libev).
$(FUZZ_BUILD)/fuzz_import: tests/fuzz/fuzz_import.c $(LIB_SRC) $(LIB_HDR) $(TR_SRC) $(TR_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Ihcd-model -Itransport $< $(LIB_SRC) $(TR_SRC) $(TR_LIBS) -o $@

# The usbmon import (transport/usbmon.c) on usbmon captures: the transport.
$(FUZZ_BUILD)/fuzz_usbmon: tests/fuzz/fuzz_usbmon.c $(LIB_SRC) $(LIB_HDR) $(TR_SRC) $(TR_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Ihcd-model -Itransport $< $(LIB_SRC) $(TR_SRC) $(TR_LIBS) -o $@

# device:FILE's device model (transport/recdev.c) on its own: the whole
# transport, its internal header too.
$(FUZZ_BUILD)/fuzz_device: tests/fuzz/fuzz_device.c $(LIB_SRC) $(LIB_HDR) $(TR_SRC) $(TR_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Ihcd-model -Itransport $< $(LIB_SRC) $(TR_SRC) $(TR_LIBS) -o $@

# The command's parsers (TOOL_PARSE_SRC above): the escaper of the library
# and no more, no main.c.
$(FUZZ_BUILD)/fuzz_tools: tests/fuzz/fuzz_tools.c $(TOOL_PARSE_SRC) $(TOOL_PARSE_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Itools/usbredir-guest $< $(TOOL_PARSE_SRC) -o $@

# What a USB/IP client sends (tools/usbredir-guest/usbip_wire.c), read as the
# server reads it.
$(FUZZ_BUILD)/fuzz_usbip: tests/fuzz/fuzz_usbip.c $(USBIP_WIRE)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -Itools/usbredir-guest $< tools/usbredir-guest/usbip_wire.c -o $@

# The filter strings against the reference's (libusbredirparser, linked by
# this target and the differential tests only).
$(FUZZ_BUILD)/fuzz_filter_diff: tests/fuzz/fuzz_filter_diff.c tests/diff/filter_diff.h \
		$(LIB_SRC) $(LIB_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $(REF_CFLAGS) -Ihcd-model $< $(LIB_SRC) $(REF_LIBS) -o $@

# The committed seed corpora of the host-stream targets (recv, hcd): the
# sessions tests/fuzz/make_corpus.c writes, and the host side of every
# fixture (tests/fuzz/corpus_from_fixtures.c). The filter targets' seeds are
# written by hand (tests/fuzz/corpus/filter, tests/fuzz/corpus/filter_diff).
# The usbmon import's: the fixtures' usbmon captures in both link types and
# synthesized ones (tests/fuzz/usbmon-corpus.sh).
corpus: $(ALL_OBJ)
	@mkdir -p $(BUILD) tests/fuzz/corpus/recv tests/fuzz/corpus/hcd tests/fuzz/corpus/import
	$(CC) $(TEST_CFLAGS) tests/fuzz/make_corpus.c tests/support/packets.c $(LIB_SRC) \
		-o $(BUILD)/make_corpus
	$(CC) $(TEST_CFLAGS) tests/fuzz/corpus_from_fixtures.c $(ALL_OBJ) $(TR_LIBS) \
		-o $(BUILD)/corpus_from_fixtures
	rm -f tests/fuzz/corpus/recv/* tests/fuzz/corpus/hcd/* tests/fuzz/corpus/import/*
	$(BUILD)/make_corpus tests/fuzz/corpus/recv
	$(BUILD)/corpus_from_fixtures tests/fuzz/corpus/recv fixtures/*.urgcap
	cp tests/fuzz/corpus/recv/* tests/fuzz/corpus/hcd/
	$(BUILD)/corpus_from_fixtures --pcap tests/fuzz/corpus/import $(filter-out %msc-read.urgcap,$(wildcard fixtures/*.urgcap))
	$(MAKE) --no-print-directory $(USBMON_MAKE)
	tests/fuzz/usbmon-corpus.sh $(USBMON_MAKE) tests/fuzz/corpus/usbmon

# Each target on a copy of its committed seed corpus: tests/tiers/fuzz.sh.
check-fuzz: $(FUZZ_TARGETS)
	@tests/tiers/fuzz.sh $(FUZZ_BUILD) $(CHECK_FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz: $(FUZZ_TARGETS)
	@tests/tiers/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ---------------------------------------------------------------- checks

check-symbols: lib
	@tests/tiers/symbols.sh $(SOVERSION) $(SHARED) $(TR_SHARED)

# make install into BUILD/stage, then tests/tiers/install.sh checks it.
STAGE := $(CURDIR)/$(BUILD)/stage
check-install: lib
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr/local \
		WIRESHARK_PLUGINDIR='$(WIRESHARK_PLUGINDIR)'
	@CC="$(CC)" WARN_CFLAGS="$(CSTD) $(WARN)" WIRESHARK_PLUGINDIR='$(WIRESHARK_PLUGINDIR)' \
		tests/tiers/install.sh $(BUILD)

# The steps run one after another (each builds in parallel under -j).
check:
	@$(MAKE) --no-print-directory check-clang
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-valgrind
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-tsan
	@$(MAKE) --no-print-directory check-realhost BUILD=build-asan CC=clang SAN=1
	@$(MAKE) --no-print-directory check-hostile BUILD=build-asan CC=clang SAN=1
	@$(MAKE) --no-print-directory check-wireshark
	@$(MAKE) --no-print-directory check-fuzz
	@$(MAKE) --no-print-directory soak
	@$(MAKE) --no-print-directory check-symbols
	@$(MAKE) --no-print-directory check-install
	@$(MAKE) --no-print-directory check-docs
	@echo "== make check: everything passed"

# The main job: the command against its bundled captures (no hardware, no
# host): a keyboard typing, a disk read, a serial adapter's greeting.
run: $(TOOL)
	@echo '$$ usbredir-guest hid'
	@$(TOOL) hid
	@echo '$$ usbredir-guest msc'
	@$(TOOL) msc
	@echo '$$ usbredir-guest serial'
	@$(TOOL) serial
	@echo '(usbredir-guest --help tells the rest; each ran against a capture replayed in-process)'

check-docs: $(TOOL)
	@tests/tiers/docs.sh $(BUILD)

# ---------------------------------------------------------------- install

$(BUILD)/usbredirguest.pc: Makefile
	@mkdir -p $(BUILD)
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: usbredirguest\nDescription: usb-guest side of the usbredir protocol\nVersion: %s\nLibs: -L$${libdir} -lusbredirguest\nLibs.private: $(PTHREAD)\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(subst $(PREFIX),$${prefix},$(LIBDIR))' \
		'$(subst $(PREFIX),$${prefix},$(INCLUDEDIR))' '$(VERSION)' > $@

$(BUILD)/usbredirguest-transport.pc: Makefile
	@mkdir -p $(BUILD)
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: usbredirguest-transport\nDescription: libev transport, captures and replay for usbredir-guest\nVersion: %s\nRequires: usbredirguest = %s\nLibs: -L$${libdir} -lusbredirguest-transport\nLibs.private: $(TR_LIBS)\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(subst $(PREFIX),$${prefix},$(LIBDIR))' \
		'$(subst $(PREFIX),$${prefix},$(INCLUDEDIR))' '$(VERSION)' '$(VERSION)' > $@

BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# Where Wireshark looks for Lua plugins, whatever PREFIX is: its "Global Lua
# Plugins" folder (tshark -G folders; Debian's is
# /usr/lib/x86_64-linux-gnu/wireshark/plugins), else pkg-config's
# wireshark plugindir (Wireshark loads Lua plugins from its subfolders
# too), else PREFIX/lib/wireshark/plugins (a Wireshark built with that
# PREFIX). Found only when used (install, uninstall, check-install).
WIRESHARK_PLUGINDIR ?= $(shell { tshark -G folders 2> /dev/null | \
	sed -n 's/^Global Lua Plugins:[[:space:]]*//p'; \
	pkg-config --variable=plugindir wireshark 2> /dev/null; \
	echo '$(PREFIX)/lib/wireshark/plugins'; } | sed -n '/./{p;q;}')

install: lib tool $(WS_LUA) $(BUILD)/usbredirguest.pc $(BUILD)/usbredirguest-transport.pc
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1
	ws='$(DESTDIR)$(WIRESHARK_PLUGINDIR)' && install -d "$$ws" && \
		install -m 644 $(WS_LUA) "$$ws/usbredir.lua"
	install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/
	install -m 644 docs/usbredir-guest.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(PUBLIC_HEADERS) $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(STATIC) $(TR_STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(TR_SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBNAME).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(LIBNAME).so.$(SOVERSION)
	ln -sf $(LIBNAME).so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$(LIBNAME).so
	ln -sf $(TR_LIBNAME).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(TR_LIBNAME).so.$(SOVERSION)
	ln -sf $(TR_LIBNAME).so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/$(TR_LIBNAME).so
	install -m 644 $(BUILD)/usbredirguest.pc $(BUILD)/usbredirguest-transport.pc \
		$(DESTDIR)$(LIBDIR)/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/usbredir-guest $(DESTDIR)$(MANDIR)/man1/usbredir-guest.1
	rm -f '$(DESTDIR)$(WIRESHARK_PLUGINDIR)/usbredir.lua'
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/,$(notdir $(PUBLIC_HEADERS)))
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBNAME).a $(DESTDIR)$(LIBDIR)/$(LIBNAME).so*
	rm -f $(DESTDIR)$(LIBDIR)/$(TR_LIBNAME).a $(DESTDIR)$(LIBDIR)/$(TR_LIBNAME).so*
	rm -f $(DESTDIR)$(LIBDIR)/pkgconfig/usbredirguest.pc $(DESTDIR)$(LIBDIR)/pkgconfig/usbredirguest-transport.pc

clean:
	rm -rf build build-asan build-clang build-tsan build-fuzz

# The headers each object and test read (DEPFLAGS).
-include $(shell find $(BUILD) -name '*.d' 2> /dev/null)
