# Makefile - one flat Makefile for the library, the programs and the tests.
#
#   make                 library + programs in build/$(REAL)/ (REAL=float default)
#   make REAL=double     the same in double precision
#   make test            builds and runs every test; ends with `N passed, N failed`
#   make clean
#
# The plain build needs nothing but a C99 compiler and libm. No -march, no
# OpenMP, no -ffast-math (it breaks NaN checks and PyTorch parity).
# -ffp-contract=off keeps a*b+c from being fused differently by different
# compilers, so results agree bit for bit across configurations.

CC      ?= cc
REAL    ?= float
# -O3, not -O2: gcc 12 vectorises almost nothing at -O2 (its "very cheap"
# cost model), and the loops outside gemm (pooling, ReLU, BatchNorm, the
# CAM code) are most of Level 1's time: the plain build's Level 1 exact
# step ran 1.3x-1.6x faster at -O3 (docs/BENCHMARKS.md). Same bits: no
# reassociation is allowed either way (no -ffast-math, -ffp-contract=off).
OPT     ?= -O3
# -fexcess-precision=fast: each float operation rounded to float even where
# ISO C mode would evaluate in double (gcc on s390x); added only where the
# compiler accepts it silently (clang warns, so it is left out there).
EXCESS  := $(shell $(CC) -fexcess-precision=fast -Werror -x c -c /dev/null -o /dev/null 2>/dev/null && echo -fexcess-precision=fast)
FPFLAGS ?= -ffp-contract=off $(EXCESS)
DEPFLAGS ?= -MMD -MP
WARN    ?= -Wall -Wextra -pedantic
STD     ?= -std=c99
LDLIBS  ?= -lm

# _FILE_OFFSET_BITS=64: 64-bit off_t/ino_t on 32-bit systems (readdir, stat, fseeko)
BASEFLAGS = $(STD) $(WARN) $(OPT) $(FPFLAGS) -I. -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64
ifeq ($(REAL),double)
REALDEF = -DGC_REAL_DOUBLE
else ifeq ($(REAL),float)
REALDEF =
else
$(error REAL must be float or double)
endif

LIB_SRC  := $(sort $(wildcard nn/*.c cam/*.c metric/*.c io/*.c))
PROG_SRC := $(sort $(wildcard train.c eval.c bench.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_SH  := $(sort $(wildcard tests/test_*.sh))
TEST_SUPPORT := tests/testlib.c $(wildcard tests/support_*.c)

# OMP=1: optional OpenMP threads (over batch and output channels; results do
# not depend on the thread count beyond what summation order requires). Its
# objects go to their own folder so they never mix with the plain build.
OMP     ?= 0
ifeq ($(OMP),1)
CFLAGS  += -fopenmp
LDFLAGS += -fopenmp
BUILD   := build/$(REAL)-omp
else
BUILD   := build/$(REAL)
endif

# FMA=1: let the compiler fuse a*b+c into one rounding (-ffp-contract=fast;
# it emits FMA instructions where the target has them, e.g. with
# -march=native). About 10% on the gemm-bound steps (docs/GEMM.md,
# docs/BENCHMARKS.md). Results then differ from the plain build's in the
# last bits; they still do not depend on the thread count. Own folder.
FMA     ?= 0
ifeq ($(FMA),1)
FPFLAGS := -ffp-contract=fast $(EXCESS)
CFLAGS  += -DGC_FMA
BUILD   := $(BUILD)-fma
endif
LIB     := $(BUILD)/libgc.a
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PROGS   := $(PROG_SRC:%.c=$(BUILD)/%)

# Tests always link the double-precision library (derivative checks need it).
TBUILD   := build/double
TLIB     := $(TBUILD)/libgc.a
TLIB_OBJ := $(LIB_SRC:%.c=$(TBUILD)/obj/%.o)
TSUP_OBJ := $(TEST_SUPPORT:%.c=build/tests/obj/%.o)
TESTS    := $(TEST_SRC:tests/%.c=build/tests/%)
# tests/tool_*.c: helper programs the shell tests call (built, not run directly)
TOOL_SRC := $(sort $(wildcard tests/tool_*.c))
TOOLS    := $(TOOL_SRC:tests/%.c=build/tests/%)

.PHONY: all test clean crosscheck run experiment-eval experiment-train portability bench FORCE
.SECONDARY:
all: $(LIB) $(PROGS)

# Flags stamps: $(BUILD)/flags and $(TBUILD)/flags hold the compiler and the
# flags their folder's objects are compiled with (build/tests/obj uses
# $(TBUILD)'s). Every object depends on its stamp, which is rewritten only
# when its content changes: changing CC, OPT, CFLAGS, OMP... recompiles that
# folder, and a make with the same variables recompiles nothing. Link-only
# variables (LDFLAGS, LDLIBS) and DEPFLAGS are not in it.
FLAGS_LINE  = $(CC) $(BASEFLAGS) $(REALDEF) $(CFLAGS)
TFLAGS_LINE = $(CC) $(BASEFLAGS) -DGC_REAL_DOUBLE $(CFLAGS)
# $(call write_stamp,file,text): rewrite file only if text differs from it
write_stamp = @mkdir -p $(dir $(1)); printf '%s\n' '$(subst ','\'',$(2))' >$(1).tmp$$$$; \
	if cmp -s $(1).tmp$$$$ $(1); then rm -f $(1).tmp$$$$; else mv -f $(1).tmp$$$$ $(1); fi

$(BUILD)/flags: FORCE
	$(call write_stamp,$@,$(FLAGS_LINE))

ifneq ($(TBUILD),$(BUILD))
$(TBUILD)/flags: FORCE
	$(call write_stamp,$@,$(TFLAGS_LINE))
endif

$(BUILD)/obj/%.o: %.c $(BUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(REALDEF) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%: $(BUILD)/obj/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

ifneq ($(REAL),double)
$(TBUILD)/obj/%.o: %.c $(TBUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -DGC_REAL_DOUBLE $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(TLIB): $(TLIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^
endif

build/tests/obj/%.o: %.c $(TBUILD)/flags
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -DGC_REAL_DOUBLE $(CFLAGS) $(DEPFLAGS) -c $< -o $@

build/tests/%: build/tests/obj/tests/%.o $(TSUP_OBJ) $(TLIB)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(LDFLAGS) $< $(TSUP_OBJ) $(TLIB) $(LDLIBS) -o $@

# Shell tests find the programs through GC_BIN.
test: all $(TESTS) $(TOOLS)
	@GC_BIN=$(CURDIR)/$(BUILD) GC_TOOLS=$(CURDIR)/build/tests GC_REAL=$(REAL) sh tests/run.sh $(TESTS) $(TEST_SH)

# The main job: on the built-in synthetic data (no downloads), train Level 2
# with lambda 0 and with lambda 100 (curriculum T0=2, T1=4), then compare
# accuracy, kappa and L_CAM side by side in out/run/compare/report.html.
RUN_OUT   ?= out/run
RUN_TRAIN = --data synth:4:800 --size 32 --level 2 --lambda 0,100 --epochs 6 --t0 2 --t1 4
run: all
	rm -rf $(RUN_OUT)
	$(BUILD)/train $(RUN_TRAIN) --out $(RUN_OUT)
	$(BUILD)/eval --model $(RUN_OUT)/L2_lam0/checkpoint.safetensors \
	    --model $(RUN_OUT)/L2_lam100/checkpoint.safetensors --out $(RUN_OUT)/compare

# The paper's two experiments (DESIGN.md section 5), on any dataset:
#   make experiment-eval  DATA=... [PRESET=small|paper] [SEEDS=0,1]
#   make experiment-train DATA=... LEVEL=2 [PRESET=small|paper]
# PRESET=paper is the paper's protocol (224x224, 20 / 50 epochs, 6 seeds);
# PRESET=small (default) is sized for a 2-core machine: 28x28 input, fewer
# epochs, class-stratified subsets. Both keep lr 1e-4, batch 32, Adam,
# ReduceLROnPlateau(patience 5), EMA 0.9. Finished runs are skipped on a rerun.
# For Fashion-MNIST: ./data_prep.sh fashion out/fashion, then DATA=out/fashion.
DATA    ?= synth
PRESET  ?= small
LEVEL   ?= 2
EXP_OUT ?= out/experiments
LAMBDAS ?= -100,0,50,100,500
ifeq ($(PRESET),paper)
SEEDS      ?= 0,1,2,3,4,5
EXP_COMMON  = --size 224
EXP_EVAL    = --epochs 20
EXP_TRAIN   = --epochs 50 --t0 2 --t1 10
else ifeq ($(PRESET),small)
SEEDS      ?= 0,1
EXP_COMMON  = --size 28 --limit-train 1500 --limit-test 500
EXP_EVAL    = --epochs 10
EXP_TRAIN   = --epochs 15 --t0 2 --t1 6
else
$(error PRESET must be small or paper)
endif
EXP_EVAL_DIR  = $(EXP_OUT)/eval-$(PRESET)
EXP_TRAIN_DIR = $(EXP_OUT)/train-$(PRESET)-L$(LEVEL)

experiment-eval: all
	$(BUILD)/train --data $(DATA) $(EXP_COMMON) $(EXP_EVAL) --level 1,2,3,4,5 --lambda 0 \
	    --seed $(SEEDS) --out $(EXP_EVAL_DIR) --resume --quiet
	$(BUILD)/eval --correlate $(EXP_EVAL_DIR)/L*/log.csv --out $(EXP_EVAL_DIR)/correlate

experiment-train: all
	$(BUILD)/train --data $(DATA) $(EXP_COMMON) $(EXP_TRAIN) --level $(LEVEL) \
	    --lambda $(LAMBDAS) --out $(EXP_TRAIN_DIR) --resume --quiet
	$(BUILD)/eval --correlate $(EXP_TRAIN_DIR)/L*/log.csv --out $(EXP_TRAIN_DIR)/curves

# Every tensor of a training-step dump against PyTorch, all five levels, both
# gradient modes, both distances, paper and earlier targets (docs/CROSSCHECK.md).
# Needs /usr/bin/python3 with Debian's python3-torch and python3-numpy.
crosscheck:
	$(MAKE) REAL=double all
	$(MAKE) REAL=float all
	sh tests/crosscheck.sh

# Images per second and peak memory of the five workloads of the PyTorch
# baseline (../shared/bench), docs/BENCHMARKS.md. BENCH_ARGS=--quick, or
# --case L2:64; the tuned build: make bench OMP=1 OPT="-O3 -march=native".
BENCH_ARGS ?=
bench: $(BUILD)/tests/bench
	$(BUILD)/tests/bench $(BENCH_ARGS)

# The test suite with gcc, clang, tcc, musl (static), armhf and s390x (under
# qemu-user); configurations whose tools are missing are reported as skipped
# (docs/PORTABILITY.md).
portability:
	sh tests/portability.sh

clean:
	rm -rf build

# Header dependencies (-MMD) of every object: library, programs, test
# programs and tools, test support, and the bench.
-include $(LIB_OBJ:.o=.d) $(TLIB_OBJ:.o=.d) $(TSUP_OBJ:.o=.d) \
	$(PROG_SRC:%.c=$(BUILD)/obj/%.d) $(BUILD)/obj/tests/bench.d \
	$(TEST_SRC:%.c=build/tests/obj/%.d) $(TOOL_SRC:%.c=build/tests/obj/%.d)
