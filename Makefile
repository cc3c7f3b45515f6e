# trw — Thermal Runaway Workbench. `make demo` and `make test` are the two set-up commands.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_BIN := .build/release
# The project's own Python environment (scripts/make-venv.sh): first on PATH for every
# recipe, the tests they run and the detectors those start; the system python3 is never
# installed into.
VENV := $(CURDIR)/.venv
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
DEMO_SCENARIO ?= demo

.PHONY: deps build release demo test test-kernel bench clean-demo

deps:
	@bash scripts/install-deps.sh
	@bash scripts/make-venv.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product trw

# Records a simulated overcharge-to-runaway run into sessions/, plots it and prints what it holds.
demo: release
	@rm -f sessions/$(DEMO_SCENARIO).sqlite sessions/$(DEMO_SCENARIO).sqlite-wal sessions/$(DEMO_SCENARIO).sqlite-shm
	$(RELEASE_BIN)/trw simulate $(DEMO_SCENARIO) --max > /dev/null
	$(RELEASE_BIN)/trw plot sessions/$(DEMO_SCENARIO).sqlite
	$(RELEASE_BIN)/trw info sessions/$(DEMO_SCENARIO).sqlite

test: deps
	$(SWIFT) build --build-tests
	bash tests/terminal/dashboard-tmux.sh .build/debug/trw
	bash tests/terminal/annotate-tmux.sh .build/debug/trw
	python3 -m pytest -q tests/python models/tests python/tests
	$(SWIFT) test --skip-build

# trw's drivers against a real Linux kernel (vivid, snd-aloop) in a qemu guest; tests/kernel/run.sh.
# Reuses the debug build of `make test`; the Debian kernel is cached in $(TRW_KERNEL_CACHE).
TRW_KERNEL_CACHE ?= $(HOME)/.cache/trw-kernel
test-kernel: deps
	$(SWIFT) build --product trw
	$(SWIFT) build --product trw-kernel-check
	TRW_KERNEL_CACHE=$(TRW_KERNEL_CACHE) bash tests/kernel/run.sh

bench: deps
	$(SWIFT) build -c release --product trw-bench
	$(RELEASE_BIN)/trw-bench
	$(SWIFT) build -c release --product trw
	python3 python/bench/decode_speed.py --trw $(RELEASE_BIN)/trw

clean-demo:
	rm -f sessions/$(DEMO_SCENARIO).sqlite* sessions/$(DEMO_SCENARIO).svg
