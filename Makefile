# rdbsync -- build, test, demo, bench.
#
#   make          build ./rdbsync (-O2, warnings are errors)
#   make test     unit tests (under ASan/UBSan) + integration tests on real
#                 redis-server processes; ends with "N passed, N failed"
#   make demo     the main job end to end on throwaway local servers
#   make bench    benchmarks against references measured in the same run
#   make fuzz     build the libFuzzer target (clang) and run it FUZZ_SECONDS
#   make install  ./rdbsync to $(DESTDIR)$(PREFIX)/bin, rdbsync.1 to
#                 $(DESTDIR)$(PREFIX)/share/man/man1 (PREFIX=/usr/local);
#                 make uninstall removes both
#
# Sources are picked up by wildcard: rdb/*.c is the library (librdb.a, no
# network code), src/*.c the tool, tests/test_*.c one unit-test binary each.

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -DOPENSSL_API_COMPAT=0x10100000L -I. -I/usr/include/liblzf $(MHD_CFLAGS)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
LIBS    := -lhiredis -llzf -lssl -lcrypto $(MHD_LIBS) -lpthread -lm

RDB_SRC := $(sort $(wildcard rdb/*.c))
APP_SRC := $(filter-out src/main.c,$(sort $(wildcard src/*.c)))
TESTS_C := $(sort $(wildcard tests/test_*.c))

BUILD   := build
RDB_OBJ := $(RDB_SRC:%.c=$(BUILD)/rel/%.o)
APP_OBJ := $(APP_SRC:%.c=$(BUILD)/rel/%.o)

# Unit tests build with sanitizers, objects in their own tree.
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SAN_RDB  := $(RDB_SRC:%.c=$(BUILD)/san/%.o)
SAN_APP  := $(APP_SRC:%.c=$(BUILD)/san/%.o)
TEST_BIN := $(TESTS_C:tests/%.c=$(BUILD)/san/tests/%)

.SECONDARY:
.PHONY: all test unit integration demo bench fuzz clean install uninstall
all: rdbsync

rdbsync: $(BUILD)/rel/src/main.o $(APP_OBJ) $(BUILD)/rel/librdb.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/rel/librdb.a: $(RDB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/rel/%.o: %.c $(wildcard rdb/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/san/%.o: %.c $(wildcard rdb/*.h src/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c -o $@ $<

# The sanitized build of the tool itself, used by integration tests.
$(BUILD)/san/rdbsync: $(BUILD)/san/src/main.o $(SAN_APP) $(SAN_RDB)
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

$(BUILD)/san/tests/%: $(BUILD)/san/tests/%.o $(SAN_APP) $(SAN_RDB)
	$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LIBS)

# make test: everything, one summary line at the end.
test: rdbsync $(BUILD)/san/rdbsync $(TEST_BIN)
	@tests/run.sh $(TEST_BIN)

demo: rdbsync
	@tests/demo.sh

bench: rdbsync
	@bench/run.sh

FUZZ_SECONDS ?= 60
$(BUILD)/fuzz_decode: tests/fuzz/fuzz_decode.c $(RDB_SRC)
	@mkdir -p $(BUILD)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -DOPENSSL_API_COMPAT=0x10100000L -I. -I/usr/include/liblzf $(WARN) -o $@ $^ -llzf -lcrypto -lm -lpthread

fuzz: $(BUILD)/fuzz_decode
	@tests/fuzz/run.sh $(BUILD)/fuzz_decode $(FUZZ_SECONDS)

PREFIX  ?= /usr/local
BINDIR  := $(DESTDIR)$(PREFIX)/bin
MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1

install: rdbsync
	install -d $(BINDIR) $(MAN1DIR)
	install -m 755 rdbsync $(BINDIR)/rdbsync
	install -m 644 rdbsync.1 $(MAN1DIR)/rdbsync.1

uninstall:
	rm -f $(BINDIR)/rdbsync $(MAN1DIR)/rdbsync.1

clean:
	rm -rf $(BUILD) rdbsync
