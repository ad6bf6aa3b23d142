# Two commands for a fresh machine:
#   make demo   installs cxrpilot and drafts a report for a real chest radiograph (CPU only)
#   make test   installs cxrpilot with everything and runs the test suite
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip install --constraint constraints.txt
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	$(PIP) --editable '.[all,test]'
	@rm -f $(VENV)/.installed-*
	touch $@

demo: install
	$(VENV)/bin/cxrpilot report "$$($(PY) -c "from pydicom.data import get_testdata_file; print(get_testdata_file('RG1_UNCR.dcm'))")"

# scripts/system-packages.sh apt-get installs postgresql, chromium, default-jre-headless, orthanc,
# orthanc-dicomweb and dcmtk when missing;
# CXRPILOT_REQUIRE_SYSTEM=1 makes a test fail, not skip, when one of them cannot be used.
test: install
	bash scripts/system-packages.sh
	$(VENV)/bin/ruff check .
	CXRPILOT_REQUIRE_SYSTEM=$${CXRPILOT_REQUIRE_SYSTEM-1} $(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
