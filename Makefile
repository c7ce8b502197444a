# `make demo` and `make test` each create .venv when missing, install seglab into it, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo

export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: install test test-fast lint demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/python -m pytest -q

test-fast: lint  # the quick loop: everything but the end-to-end runs marked slow
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/seglab data sample --out $(DEMO)/sample --overwrite
	$(BIN)/seglab data check $(DEMO)/sample
	$(BIN)/seglab data preview $(DEMO)/sample --out $(DEMO)/preview --num 12 --overwrite
	$(BIN)/seglab compare --data $(DEMO)/sample --methods otsu,histogram,sauvola,kmeans,watershed \
		--out $(DEMO)/compare --overwrite
	$(BIN)/seglab train --data $(DEMO)/sample --time-limit 5m --out $(DEMO)/runs --name sample \
		--overwrite --quiet
	$(BIN)/seglab predict --model $(DEMO)/runs/sample --input $(DEMO)/sample/val/images \
		--out $(DEMO)/predictions --rle-csv $(DEMO)/predictions/val_rle.csv --overwrite --quiet
	$(BIN)/seglab evaluate --model $(DEMO)/runs/sample --quiet
	$(BIN)/seglab report $(DEMO)/runs/sample --test $(DEMO)/sample/test/images
	@echo "Previews: $(DEMO)/preview/grid.png  Classical baselines: $(DEMO)/compare/compare.md"
	@echo "Network: $(DEMO)/runs/sample (metrics.csv, plots/, model.safetensors, summary.json)"
	@echo "Val predictions: $(DEMO)/predictions (masks/, overlays/, crops/, val_rle.csv: the seed's CSV)"
	@echo "Report of the sample set: $(DEMO)/runs/sample/report.html"

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache
