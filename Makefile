# blazefs — hand-written GNU Makefile.
#   make                      build the blazefs binary
#   make test                 unit tests (cmocka) + integration tests (real FUSE mounts)
#   make attack               the attack client (build/plain/tests/attack/attacker) the
#                             integration test attack.sh runs
#   make SANITIZE=address,undefined test
#   make SANITIZE=thread test   ThreadSanitizer (unit tests, and the integration
#                             tests that run under it: see TSAN_SKIP)
#   make check-format         fails if a file differs from .clang-format's layout
#   make fuzz                 libFuzzer targets (clang-14)
#   make bench                benchmarks (ratios against baselines measured in the same run)
#   make bench-big            a fresh device catching up on 1M records (time, peak RSS;
#                             long: filling A's mount alone takes minutes)
#   make crash                crash-state explorer: power-cut images of a recorded
#                             workload, D2/D3/D4 checked on each (CRASH_IMAGES=200)
#   make deps                 install every Debian package the project and its tests need
PREFIX  ?= /usr/local
CC      ?= cc
PKGS    := fuse3 libsodium jansson avahi-client
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -D_GNU_SOURCE -I. -MMD -MP
LDLIBS_CORE := -ljansson -llmdb -lsodium
LDLIBS_ALL  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llmdb -lpthread
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

comma   := ,
ifdef SANITIZE
O       := build/$(subst $(comma),-,$(SANITIZE))
ifneq ($(findstring thread,$(SANITIZE)),)
# Every race stops the process that found it, so the test that drove it fails.
export TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1 \
                       suppressions=$(CURDIR)/tests/tsan.supp
endif
# 100k records take 4-10 minutes under TSan or ASan (a CI run went past the
# 600 s a test may take); 20k take the same code paths.  The plain run keeps 100k.
export BIGDIR_N ?= 20000
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
O       := build/plain
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

CORE_SRC := $(wildcard core/*.c)
FS_SRC   := $(wildcard fs/*.c)
NET_SRC  := $(wildcard net/*.c)
CLI_SRC  := $(wildcard cli/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/*.c)

CORE_OBJ := $(CORE_SRC:%.c=$(O)/%.o)
FS_OBJ   := $(FS_SRC:%.c=$(O)/%.o)
NET_OBJ  := $(NET_SRC:%.c=$(O)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

all: blazefs tools

blazefs: $(O)/blazefs
	$(Q)ln -sf $(O)/blazefs blazefs

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(O)/libcore.a: $(CORE_OBJ)
	$(Q)$(AR) rcs $@ $^
$(O)/libfs.a: $(FS_OBJ)
	$(Q)$(AR) rcs $@ $^
$(O)/libnet.a: $(NET_OBJ)
	$(Q)$(AR) rcs $@ $^

$(O)/blazefs: $(CLI_OBJ) $(O)/libfs.a $(O)/libnet.a $(O)/libcore.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Unit tests: tests/unit/core_*.c link core alone; net_*.c link net + core.
$(O)/tests/core_%: $(O)/tests/unit/core_%.o $(O)/libcore.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_CORE) -lcmocka
$(O)/tests/net_%: $(O)/tests/unit/net_%.o $(O)/libnet.a $(O)/libcore.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# Test tools: the TCP proxy of the network tests (tests/tools/netproxy.c),
# found by the tests next to the binary they test, at $(O)/tools/netproxy
# (not under $(O)/tests: run-unit.sh runs everything there).
NETPROXY_BIN := $(O)/tools/netproxy
$(NETPROXY_BIN): tests/tools/netproxy.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
tools: $(NETPROXY_BIN)

# The hostile stranger and member of tests/integration/attack.sh: the
# project's own protocol code, linked like the net unit tests.
ATTACK_BIN := $(O)/tests/attack/attacker
$(ATTACK_BIN): $(O)/tests/attack/attack.o $(O)/libnet.a $(O)/libcore.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
attack: $(ATTACK_BIN)

unit: $(UNIT_BIN)
	$(Q)./tests/run-unit.sh $(O)/tests

# A failed unit binary does not hide the integration results: both run, and
# the target fails at the end if either did.
test: $(O)/blazefs $(UNIT_BIN) $(ATTACK_BIN) $(NETPROXY_BIN)
	$(Q)rc=0; ./tests/run-unit.sh $(O)/tests || rc=1; \
	BLAZEFS_BIN=$(O)/blazefs ./tests/run-integration.sh || rc=1; exit $$rc

# Fuzzing: every target links the core and net sources built by clang with libFuzzer.
FUZZ_CC     ?= clang-14
FUZZ_CFLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
build/fuzz/%: tests/fuzz/%.c $(CORE_SRC) $(NET_SRC) $(wildcard core/*.h net/*.h tests/fuzz/*.h)
	@mkdir -p build/fuzz
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRC) $(NET_SRC) $(LDLIBS_ALL)
fuzz: $(FUZZ_BIN)
fuzz-run: fuzz
	$(Q)./tests/run-fuzz.sh build/fuzz $(or $(FUZZ_SECONDS),20)

bench: blazefs tools
	$(Q)BLAZEFS_BIN=$(O)/blazefs ./bench/run.sh
	$(Q)BLAZEFS_BIN=$(O)/blazefs ./bench/sync.sh && BLAZEFS_BIN=$(O)/blazefs ./bench/mdns.sh
	$(Q)BLAZEFS_BIN=$(O)/blazefs ./bench/relay.sh
	$(Q)BLAZEFS_BIN=$(O)/blazefs ./bench/gossip.sh

bench-big: blazefs
	$(Q)BLAZEFS_BIN=$(O)/blazefs SYNC_BENCH_BIG=$(or $(BENCH_BIG),1000000) \
		SYNC_BENCH_ST_BIG_TIMEOUT=0 SYNC_BENCH_ROUNDS=1 ./bench/sync.sh

# make test runs the bounded explorer (tests/integration/crash_images.sh);
# this runs more recordings and images (tests/crash/README.md).
crash: $(O)/blazefs
	$(Q)BLAZEFS=$(abspath $(O)/blazefs) CRASH_IMAGES=$(or $(CRASH_IMAGES),200) \
		CRASH_SEEDS="$(or $(CRASH_SEEDS),1 2 3 4)" ./tests/integration/crash_images.sh

deps:
	./contrib/install-deps.sh

install: blazefs tools
	install -D -m 0755 $(O)/blazefs $(DESTDIR)$(PREFIX)/bin/blazefs
	install -D -m 0755 contrib/mount.fuse.blazefs $(DESTDIR)/sbin/mount.fuse.blazefs
	install -D -m 0644 contrib/blazefs.1 $(DESTDIR)$(PREFIX)/share/man/man1/blazefs.1
	install -D -m 0644 contrib/blazefs.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/blazefs
	install -D -m 0644 contrib/blazefs@.service $(DESTDIR)/etc/systemd/system/blazefs@.service

FORMAT_SRC := $(CORE_SRC) $(FS_SRC) $(NET_SRC) $(CLI_SRC) $(UNIT_SRC) $(FUZZ_SRC) tests/attack/attack.c \
              $(wildcard bench/*.c */*.h tests/unit/*.h tests/fuzz/*.h) tests/tools/netproxy.c
format:
	clang-format -i $(FORMAT_SRC)
check-format:
	$(Q)clang-format --dry-run -Werror $(FORMAT_SRC)

clean:
	rm -rf build blazefs

.PHONY: all blazefs tools attack unit test fuzz fuzz-run bench bench-big crash deps install format check-format clean
.SECONDARY:
-include $(shell find build -name '*.d' 2>/dev/null)
