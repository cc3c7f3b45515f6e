# trw — Thermal Runaway Workbench. `make demo` and `make test` are the two set-up commands.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_BIN := .build/release
DEMO_NAME ?= demo
DEMO_RIG ?= synthetic
DEMO_DURATION ?= 20

.PHONY: deps build release demo test bench clean-demo

deps:
	@bash scripts/install-deps.sh
	@bash scripts/install-python-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product trw

# Records a short run into sessions/ and prints what it holds.
demo: release
	@rm -f sessions/$(DEMO_NAME).sqlite sessions/$(DEMO_NAME).sqlite-wal sessions/$(DEMO_NAME).sqlite-shm
	$(RELEASE_BIN)/trw record --rig $(DEMO_RIG) --name $(DEMO_NAME) --duration $(DEMO_DURATION) --max --quiet > /dev/null
	$(RELEASE_BIN)/trw info sessions/$(DEMO_NAME).sqlite

test: deps
	$(SWIFT) build --build-tests
	bash tests/terminal/dashboard-tmux.sh .build/debug/trw
	python3 -m pytest -q tests/python
	$(SWIFT) test --skip-build

bench: deps
	$(SWIFT) build -c release --product trw-bench
	$(RELEASE_BIN)/trw-bench

clean-demo:
	rm -f sessions/$(DEMO_NAME).sqlite*
