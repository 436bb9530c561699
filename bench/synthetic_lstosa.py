"""The engine of ``make_synthetic.py``: lstosa's record shapes and the simulated night.

Constants of the night (paths, versions, content types, the package list of the
environment), the ``str(dict)`` templates of the ~20 kB session records, and
:class:`_Night`, which lays out the bursts of every traced call, their interleaving and
their record times. ``make_synthetic.py`` is the public entry point (its docstring
describes the shape of the night); this module is not meant to be used on its own.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

LINES_PER_SUBRUN = 46  # r0_to_dl1 21 + dl1ab 12 (incl. the WARNING line) + dl1_datacheck 13
LINES_PER_CALIBRATION = 20  # drs4_pedestal 9 + calibrate_charge 11

DEFAULT_BASE = "/fefs/aswg/data/real"
SOFTWARE_ROOT = "/fefs/aswg/software"
ENV_ROOT = "/fefs/aswg/envs"  # conda environments (short: ~20 kB session records)
SOFTWARE_VERSION = "v0.12.3"  # lstchain version, also names the calibration output folder
PROD_ID = "v0.1.0"
DL1_PROD_ID = "tailcut84"
CALIB_PROD_ID = "v0.1.1"  # folder of the calibration files passed to datasequence (§2.3)
AGENT = "lstanalyzer"
REPROCESS_VERSION = "v0.12.4"  # lstchain version of the --reprocess pass
DL2_PROD_ID = "tailcut84/nsb_tuning_0.14"  # DL2 folder under the prod id (as the sample)
MODELS_DIR = "models/AllSky/20240131_allsky_v0.10.5_all_dec/dec_2276"  # next to base_dir
DL2_CONFIG = "lstosa/cfg/lstchain_standard_config_dl2.json"  # under SOFTWARE_ROOT
# (entity name, role = file) of the random-forest models dl1_to_dl2 uses (definition.yaml)
RF_MODELS = (
    ("RFModelEnergyFile", "reg_energy.sav"),
    ("RFModelDispNormFile", "reg_disp_norm.sav"),
    ("RFModelDispSignFile", "reg_disp_sign.sav"),
    ("RFModelGammanessFile", "cls_gh.sav"),
)
LINES_PER_DL2 = 18  # dl1_to_dl2: session, start, parameters, 6 x (entity + used), 2, end
# dl2_to_dl3 (one per run): session, start, parameters, (subruns + 2) x (entity + used),
# entity + wasGeneratedBy of the DL3 file, end -> 2 * subruns + 10 lines
IRF_FILE = "IRF/20240131_allsky_v0.10.5_all_dec/dec_2276/irf_tailcut84_gh0.7_theta0.2.fits.gz"
DL3_CONFIG = "lstosa/cfg/dl3_tool_config.json"  # under SOFTWARE_ROOT
INVERSION_RATE = 0.001  # interleaved mode: share of lines whose record time goes backwards
_COEFF_ROLE = "Coefficients calibration file"
_SYS_ROLE = "Systematic correction factor file"
_CONFIG_ROLE = "Analysis configuration file"
_CHECK_ROLE = "DL1Check subrun dataset"
_WARNING = "WARNING provLogger Derivation detected in dl1ab for DL1SubrunDataset. ID: "

_EPOCH = datetime(1970, 1, 1)

# contentType of each entity description (current definition.yaml)
CONTENT_TYPES = {
    "RawObservationFile": "application/fits",
    "R0SubrunDataset": "application/fits",
    "PedestalFile": "application/x-hdf",
    "PedestalCheckPlot": "application/pdf",
    "CoefficientsCalibrationFile": "application/x-hdf",
    "CalibrationCheckPlot": "application/pdf",
    "TimeCalibrationFile": "application/x-hdf",
    "SystematicCorrectionFile": "application/x-hdf",
    "PointingFile": "text/plain",
    "RunSummaryFile": "application/ecsv",
    "AnalysisConfigFile": "application/json",
    "DL1SubrunDataset": "application/x-hdf",
    "MuonsSubrunDataset": "application/fits",
    "DL1CheckHDF5File": "application/hdf5",
    "DL1CheckPDFFile": "application/pdf",
    "DL1CheckSubrunDataset": "application/x-hdf",
    "RFModelEnergyFile": "application/x-spss-sav",
    "RFModelDispNormFile": "application/x-spss-sav",
    "RFModelDispSignFile": "application/x-spss-sav",
    "RFModelGammanessFile": "application/x-spss-sav",
    "DL2SubrunDataset": "application/x-hdf",
    "IRFFile": "application/fits",
    "DL3RunFile": "application/fits",
}

# installed distributions of the sample's lstosa environment (names only)
_PACKAGE_TEXT = (
    "annotated-types anyio argon2-cffi argon2-cffi-bindings arrow astropy astropy-iers-data "
    "asttokens async-lru attrs babel beautifulsoup4 bleach blosc2 bokeh certifi cffi "
    "charset-normalizer click comm contourpy corsikaio coverage ctapipe ctapipe-io-lst ctaplot "
    "cycler debugpy defusedxml dnspython docutils eventio executing fastjsonschema fonttools "
    "fqdn freezegun gammapy h11 h2 h5py hpack httpcore httpx hyperframe idna iminuit iniconfig "
    "ipykernel ipython ipython-pygments-lexers ipywidgets isoduration jedi jinja2 joblib json5 "
    "jsonpointer jsonschema jsonschema-specifications jupyter jupyter-builder jupyter-client "
    "jupyter-console jupyter-core jupyter-events jupyter-lsp jupyter-server "
    "jupyter-server-terminals jupyterlab jupyterlab-pygments jupyterlab-server "
    "jupyterlab-widgets kiwisolver lark llvmlite lstchain lstosa markdown-it-py markupsafe "
    "matplotlib matplotlib-inline mdurl mistune msgpack narwhals nbclient nbconvert nbformat "
    "ndindex nest-asyncio2 networkx notebook notebook-shim numba numexpr numpy overrides "
    "packaging pandas pandocfilters parso pexpect pillow pip platformdirs pluggy "
    "prometheus-client prompt-toolkit protobuf protozfits prov psutil ptyprocess pure-eval "
    "py-cpuinfo pycparser pydantic pydantic-core pydot pydotplus pyerfa pygments pyirf pymongo "
    "pyparsing pytest pytest-cov python-dateutil python-json-logger pytz pyyaml pyzmq "
    "referencing regions requests rfc3339-validator rfc3986-validator rfc3987-syntax rich "
    "rpds-py scikit-learn scipy seaborn send2trash setuptools six soupsieve stack-data tables "
    "tenacity terminado threadpoolctl tinycss2 toml tornado tqdm traitlets typing-extensions "
    "typing-inspection tzdata uri-template urllib3 wcwidth webcolors webencodings "
    "websocket-client widgetsnbextension xyzservices zstandard"
)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _entity_id(path: str) -> str:
    """lstosa's file entity id: md5 of the path string (spec §1.6)."""
    return hashlib.md5(str(Path(path)).encode()).hexdigest()


class _Template:
    """A ``str(dict)`` with some values left open: ``'@@NAME@@'`` markers, filled by repr."""

    _MARK = re.compile(r"'@@(\w+)@@'")

    def __init__(self, record: dict[str, Any]) -> None:
        parts = self._MARK.split(repr(record))
        self.literals = parts[0::2]
        self.names = parts[1::2]

    def render(self, values: dict[str, Any]) -> str:
        out = [self.literals[0]]
        for name, literal in zip(self.names, self.literals[1:], strict=True):
            out.append(repr(values[name]))
            out.append(literal)
        return "".join(out)


def _mark(name: str) -> str:
    return f"@@{name}@@"


class _Burst:
    """The lines of one traced call: items are (kind, payload) with kind 'S', 'P' or 'W'."""

    __slots__ = ("end", "items", "pos", "task")

    def __init__(self, task: _Task, items: list[tuple[str, Any]], end: int) -> None:
        self.task = task
        self.items = items
        self.end = end
        self.pos = 0


class _Task:
    """One process (a calibration_pipeline or a datasequence call for one subrun)."""

    __slots__ = ("last_written", "make_burst", "phases")

    def __init__(self, phases: int, make_burst: Any) -> None:
        self.phases = phases
        self.make_burst = make_burst  # (task, phase, start_us) -> _Burst
        self.last_written = 0


# --------------------------------------------------------------------------------------
# The night
# --------------------------------------------------------------------------------------


class _Night:
    def __init__(
        self,
        *,
        runs: int,
        subruns: int,
        obs_date: datetime,
        seed: int,
        packages: int,
        interleave: int,
        calibration: int,
        first_run: int,
        base: str,
        connected: bool,
        simulate: bool,
        zero_us_rate: float,
        dl2: bool = False,
        reprocess: int = 0,
        dl3: bool = False,
    ) -> None:
        self.runs = runs
        self.dl2 = dl2
        self.dl3 = dl3
        self.reprocess = min(reprocess, runs)
        self.subruns = subruns
        self.date = obs_date.strftime("%Y%m%d")
        self.date_dash = obs_date.strftime("%Y-%m-%d")
        self.interleave = interleave
        self.calibration = calibration
        self.first_run = first_run
        self.base = base
        self.connected = connected
        self.simulate = simulate
        self.zero_us_rate = zero_us_rate
        self.rng = random.Random(seed)  # content: ids, durations, environment
        self.mix = random.Random(f"{seed}:mix")  # line order and record times
        # processing starts the morning after the night, between 07:00 and 07:30
        self.origin = obs_date + timedelta(days=1, hours=7)
        self.now = self.rng.randrange(0, 1800) * 1_000_000 + self.rng.randrange(1_000_000)
        self._id_cache: dict[str, str] = {}

        osa_prefix = f"{ENV_ROOT}/osa"
        cam_prefix = f"{ENV_ROOT}/lstcam-env"
        self.data_script = f"{osa_prefix}/bin/datasequence"
        self.calib_script = f"{cam_prefix}/bin/calibration_pipeline"
        self.config_file = f"{SOFTWARE_ROOT}/lstosa/cfg/sequencer.cfg"
        self.analysis_config = f"{SOFTWARE_ROOT}/lstchain/data/lstchain_standard_config.json"
        pkgs = self._packages(packages, f"{osa_prefix}/lib/python3.11/site-packages")
        self.nodes = {
            f"cp{i:02d}": self._fmt(self.now - self.rng.randrange(3, 90) * 86_400_000_000, True)
            for i in range(1, 41)
        }
        self.node_names = sorted(self.nodes)
        self.data_session = self._session_template(osa_prefix, pkgs, calib=False)
        cam_pkgs = [dict(p) for p in pkgs]
        for p in self.rng.sample(cam_pkgs, min(10, len(cam_pkgs))):  # a slightly older env
            p["version"] = self._version()
        for p in cam_pkgs:
            p["path"] = f"{cam_prefix}/lib/python3.11/site-packages"
        self.calib_session = self._session_template(cam_prefix, cam_pkgs, calib=True)
        # the reprocessing pass: same environments, newer lstchain (no RNG drawn here, so
        # the default night stays byte-identical)
        self.data_session_new = self._session_template(
            osa_prefix, pkgs, calib=False, version=REPROCESS_VERSION
        )
        self.calib_session_new = self._session_template(
            cam_prefix, cam_pkgs, calib=True, version=REPROCESS_VERSION
        )
        data_root = self.base.rsplit("/", 1)[0] or "/"
        self.models_dir = f"{data_root.rstrip('/')}/{MODELS_DIR}"
        self.dl2_config = f"{SOFTWARE_ROOT}/{DL2_CONFIG}"
        self.irf_file = f"{data_root.rstrip('/')}/{IRF_FILE}"
        self.dl3_config = f"{SOFTWARE_ROOT}/{DL3_CONFIG}"

        # run numbers: calibration pairs just below the first data run when possible
        npairs = max(calibration, 1)
        low = first_run - 2 * npairs - 1
        base_run = low if low >= 1 else first_run + runs
        self.pairs = [(base_run + 2 * k, base_run + 2 * k + 1) for k in range(npairs)]

    # ---- environment ---------------------------------------------------------------

    def _version(self) -> str:
        r = self.rng
        return f"{r.randrange(0, 8)}.{r.randrange(0, 30)}.{r.randrange(0, 12)}"

    def _packages(self, count: int, path: str) -> list[dict[str, str]]:
        names = _PACKAGE_TEXT.split()
        if count <= len(names):
            names = sorted(self.rng.sample(names, count))
        else:
            names += [f"lst-extra-package-{i:04d}" for i in range(count - len(names))]
            names.sort()
        return [{"name": n, "version": self._version(), "path": path} for n in names]

    def _session_template(
        self,
        prefix: str,
        pkgs: list[dict[str, str]],
        *,
        calib: bool,
        version: str = SOFTWARE_VERSION,
    ) -> _Template:
        env = prefix.rsplit("/", 1)[-1]
        system = {
            "executable": f"{prefix}/bin/python3.11",
            "platform": {
                "architecture_bits": "64bit",
                "architecture_linkage": "ELF",
                "machine": "x86_64",
                "processor": "x86_64",
                "node": _mark("NODE"),
                "version": "#1 SMP Wed Oct 4 12:00:00 UTC 2023",
                "system": "Linux",
                "release": "3.10.0-1160.102.1.el7.x86_64",
                "libcver": "('glibc', '2.17')",
                "num_cpus": 64,
                "boot_time": _mark("BOOT"),
            },
            "python": {
                "version_string": "3.11.7 | packaged by conda-forge | "
                "(main, Dec 23 2023, 14:43:09) [GCC 12.3.0]",
                "version": "3.11.7",
                "compiler": "GCC 12.3.0",
                "implementation": "CPython",
                "packages": pkgs,
            },
            "environment": {
                "CONDA_DEFAULT_ENV": env,
                "CONDA_PREFIX": prefix,
                "CONDA_PYTHON_EXE": f"{SOFTWARE_ROOT}/conda/bin/python",
                "CONDA_EXE": f"{SOFTWARE_ROOT}/conda/bin/conda",
                "CONDA_PROMPT_MODIFIER": f"({env}) ",
                "CONDA_SHLVL": "2",
                "PATH": f"{prefix}/bin:{SOFTWARE_ROOT}/conda/condabin:/usr/local/bin:"
                "/usr/bin:/usr/local/sbin:/usr/sbin",
                "LD_LIBRARY_PATH": None,
                "DYLD_LIBRARY_PATH": None,
                "USER": AGENT,
                "HOME": f"/fefs/home/{AGENT}",
                "SHELL": "/bin/bash",
            },
            "arguments": _mark("ARGS"),
            "start_time_utc": _mark("UTC"),
        }
        record: dict[str, Any] = {
            "session_id": _mark("SID"),
            "name": _mark("NAME"),
            "startTime": _mark("START"),
            "system": system,
            "observation_date": self.date,
            "software_version": version,
            "config_file": self.config_file,
            "config_file_hash": _entity_id(self.config_file),
            "config_file_hash_type": "md5",
        }
        if calib:
            record["pedestal_run"] = _mark("PED")
            record["calibration_run"] = _mark("CAL")
        else:
            record["observation_run"] = _mark("RUN")
        record["session_tag"] = _mark("TAG")
        return _Template(record)

    # ---- times and ids ---------------------------------------------------------------

    def _fmt(self, t: int, whole: bool = False) -> str:
        if whole:
            t -= t % 1_000_000
        return (self.origin + timedelta(microseconds=t)).isoformat()

    def _snap(self, t: int, rng: random.Random) -> int:
        """Sometimes move ``t`` up to the next whole second (isoformat then has no µs)."""
        if self.zero_us_rate and rng.random() < self.zero_us_rate and t % 1_000_000:
            return t - t % 1_000_000 + 1_000_000
        return t

    def _activity_id(self) -> str:
        return f"{self.rng.getrandbits(24):06x}"

    def _fixed_id(self, path: str) -> str:
        eid = self._id_cache.get(path)
        if eid is None:
            eid = self._id_cache[path] = _entity_id(path)
        return eid

    # ---- record payloads -------------------------------------------------------------

    @staticmethod
    def _entity(eid: str, name: str, path: str, tag: str) -> str:
        return repr(
            {
                "entity_id": eid,
                "name": name,
                "filepath": path,
                "hash": eid,
                "hash_type": "md5",
                "type": "File",
                "contentType": CONTENT_TYPES[name],
                "session_tag": tag,
            }
        )

    def _io(
        self,
        items: list[tuple[str, Any]],
        aid: str,
        tag: str,
        entries: Sequence[tuple[str, str, str, str | None]],
        used: bool,
    ) -> None:
        """Entity + used/wasGeneratedBy pairs for (entity name, role, path, id) entries."""
        id_key, role_key = ("used_id", "used_role") if used else ("generated_id", "generated_role")
        for name, role, path, eid in entries:
            if eid is None:
                eid = self._fixed_id(path)
            items.append(("P", self._entity(eid, name, path, tag)))
            items.append(
                ("P", repr({"activity_id": aid, id_key: eid, role_key: role, "session_tag": tag}))
            )

    def _open(
        self,
        items: list[tuple[str, Any]],
        template: _Template,
        session: dict[str, Any],
        aid: str,
        name: str,
        start: int,
        script: str,
        derived: str | None = None,
    ) -> None:
        """Session record, wasDerivedFrom (if any) and activity start of a burst."""
        tag = session["TAG"]
        session["START"] = self._fmt(start)
        items.append(("S", (template, session)))
        if derived is not None:
            items.append(("P", derived))
        items.append(
            (
                "P",
                repr(
                    {
                        "activity_id": aid,
                        "name": name,
                        "startTime": session["START"],
                        "in_session": session["SID"],
                        "agent_name": AGENT,
                        "script": script,
                        "session_tag": tag,
                    }
                ),
            )
        )

    def _close(
        self, items: list[tuple[str, Any]], aid: str, tag: str, start: int, seconds: tuple
    ) -> int:
        """Activity end record after a duration drawn in ``seconds``; returns the end time."""
        lo, hi = seconds
        end = self._snap(start + self.rng.randrange(lo * 1_000_000, hi * 1_000_000), self.rng)
        items.append(
            ("P", repr({"activity_id": aid, "endTime": self._fmt(end), "session_tag": tag}))
        )
        return end

    # ---- calibration -----------------------------------------------------------------

    def _calib_paths(self, ped: str, cal: str, version: str) -> dict[str, str]:
        cat_a = f"{self.base}/monitoring/PixelCalibration/Cat-A"
        return {
            "ped": f"{cat_a}/drs4_baseline/{self.date}/{version}/drs4_pedestal.Run{ped}.0000.h5",
            "ped_plot": f"{cat_a}/drs4_baseline/{self.date}/{version}/log/"
            f"drs4_pedestal.Run{ped}.0000.pdf",
            "coeff": f"{cat_a}/calibration/{self.date}/{version}/"
            f"calibration_filters_52.Run{cal}.0000.h5",
            "coeff_plot": f"{cat_a}/calibration/{self.date}/{version}/log/"
            f"calibration_filters_52.Run{cal}.0000.pdf",
        }

    def _command(self, before: list[str], after: list[str]) -> list[str]:
        """A sequencer script's command line: ``before``, ``-s`` when simulating, the
        config and date, then ``after``."""
        args = [*before, "-s"] if self.simulate else list(before)
        return [*args, "--config", self.config_file, f"--date={self.date_dash}", *after]

    def _session(
        self, sid: str, name: str, tag: str, args: list[str], node: str, **ids: str
    ) -> dict[str, Any]:
        """The values a session template is filled with (``ids``: RUN, or PED and CAL)."""
        return {
            "SID": sid,
            "NAME": name,
            **ids,
            "TAG": tag,
            "ARGS": args,
            "NODE": node,
            "BOOT": self.nodes[node],
        }

    def _calibration_task(self, k: int, rerun: bool = False) -> _Task:
        ped, cal = (f"{r:05d}" for r in self.pairs[k])
        template = self.calib_session
        paths = self._calib_paths(ped, cal, SOFTWARE_VERSION)
        if rerun:
            # the rerun regenerates the very files the data runs were calibrated with
            template = self.calib_session_new
            paths = self._calib_paths(ped, cal, self._data_calib_version())
        args = self._command(
            [self.calib_script], [f"--drs4-pedestal-run={ped}", f"--pedcal-run={cal}", "LST1"]
        )
        node = self.rng.choice(self.node_names)
        sid = f"{ped}{cal}"

        def make(task: _Task, phase: int, start: int) -> _Burst:
            name = ("drs4_pedestal", "calibrate_charge")[phase]
            tag = f"{name}:{ped}-{cal}"
            session = self._session(sid, f"{ped}-{cal}", tag, args, node, PED=ped, CAL=cal)
            aid = self._activity_id()
            items: list[tuple[str, Any]] = []
            self._open(items, template, session, aid, name, start, self.calib_script)
            raw = f"{self.base}/R0G/{self.date}/LST-1.1.Run{ped if phase == 0 else cal}.fits.fz"
            if phase == 0:
                used = [("RawObservationFile", "Subrun for pedestal", raw, None)]
                self._io(items, aid, tag, used, True)
                gen = [
                    ("PedestalFile", "Pedestal", paths["ped"], None),
                    ("PedestalCheckPlot", "Check plot for pedestal", paths["ped_plot"], None),
                ]
                seconds = (60, 240)
            else:
                self._io(
                    items,
                    aid,
                    tag,
                    [
                        ("RawObservationFile", "Subrun for calibration", raw, None),
                        ("PedestalFile", "Pedestal file", paths["ped"], None),
                    ],
                    True,
                )
                gen = [
                    ("CoefficientsCalibrationFile", _COEFF_ROLE, paths["coeff"], None),
                    (
                        "CalibrationCheckPlot",
                        "Check plot for calibration",
                        paths["coeff_plot"],
                        None,
                    ),
                ]
                seconds = (180, 600)
            self._io(items, aid, tag, gen, False)
            end = self._close(items, aid, tag, start, seconds)
            return _Burst(task, items, end)

        return _Task(2, make)

    # ---- data subruns ----------------------------------------------------------------

    def _data_calib_version(self) -> str:
        """Folder of the calibration files the data runs use (§2.3)."""
        return SOFTWARE_VERSION if self.connected else CALIB_PROD_ID

    def _subrun_task(self, run_index: int, subrun: int, rerun: bool = False) -> _Task:
        run = f"{self.first_run + run_index:05d}"
        sub = f"{subrun:04d}"
        pair = self.pairs[run_index * len(self.pairs) // self.runs]
        ped, cal = (f"{r:05d}" for r in pair)
        calib = self._calib_paths(ped, cal, self._data_calib_version())
        template = self.data_session_new if rerun else self.data_session
        mon = f"{self.base}/monitoring"
        cat_a = f"{mon}/PixelCalibration/Cat-A"
        time_calib = (
            f"{cat_a}/drs4_time_sampling_from_FF/20191124/pro/time_calibration.Run01625.0000.h5"
        )
        systematics = f"{cat_a}/ffactor_systematics/20200725/pro/ffactor_systematics_20200725.h5"
        pointing = f"{mon}/DrivePositioning/DrivePosition_log_{self.date}.txt"
        summary = f"{mon}/RunSummary/RunSummary_{self.date}.ecsv"
        dl1_dir = f"{self.base}/DL1/{self.date}/{PROD_ID}"
        dl2_dir = f"{self.base}/DL2/{self.date}/{PROD_ID}/{DL2_PROD_ID}"
        r0 = f"{self.base}/R0G/{self.date}/LST-1.1.Run{run}.{sub}.fits.fz"
        dl1a = f"{dl1_dir}/dl1_LST-1.Run{run}.{sub}.h5"
        muons = f"{dl1_dir}/muons/muons_LST-1.Run{run}.{sub}.fits"
        dl1b = f"{dl1_dir}/{DL1_PROD_ID}/dl1_LST-1.Run{run}.{sub}.h5"
        check_dir = f"{dl1_dir}/{DL1_PROD_ID}"
        dl1a_id, muons_id, dl1b_id = _entity_id(dl1a), _entity_id(muons), _entity_id(dl1b)
        after = [
            f"--prod-id={PROD_ID}",
            f"--drive-file={pointing}",
            f"--run-summary={summary}",
            f"--drs4-pedestal-file={calib['ped']}",
            f"--pedcal-file={calib['coeff']}",
            f"--time-calib-file={time_calib}",
            f"--systematic-correction-file={systematics}",
            f"--dl1b-config={self.base}/auxiliary/TailCuts/dl1ab_Run{run}.json",
            f"--dl1-prod-id={DL1_PROD_ID}",
            f"{run}.{sub}",
            "LST1",
        ]
        args = self._command([self.data_script, "--input-state=legacy_raw"], after)
        node = self.rng.choice(self.node_names)
        sid = f"{self.date}{run}"

        def make(task: _Task, phase: int, start: int) -> _Burst:
            name = ("r0_to_dl1", "dl1ab", "dl1_datacheck", "dl1_to_dl2")[phase]
            tag = f"{name}:{run}"
            session = self._session(sid, run, tag, args, node, RUN=run)
            aid = self._activity_id()
            items: list[tuple[str, Any]] = []
            if phase == 0:
                self._open(items, template, session, aid, name, start, self.data_script)
                used = [
                    ("R0SubrunDataset", "Observation subrun", r0, _entity_id(r0)),
                    ("PedestalFile", "Pedestal file", calib["ped"], None),
                    ("CoefficientsCalibrationFile", _COEFF_ROLE, calib["coeff"], None),
                    ("TimeCalibrationFile", "Time calibration file", time_calib, None),
                    ("SystematicCorrectionFile", _SYS_ROLE, systematics, None),
                    ("PointingFile", "Pointing file", pointing, None),
                    ("RunSummaryFile", "Run summary", summary, None),
                ]
                gen = [
                    ("DL1SubrunDataset", "DL1 subrun dataset", dl1a, dl1a_id),
                    ("MuonsSubrunDataset", "Muons subrun dataset", muons, muons_id),
                ]
                seconds = (180, 480)
            elif phase == 1:
                items.append(("W", f"{_WARNING}{dl1b_id}"))
                derived = {"entity_id": dl1b_id, "progenitor_id": dl1a_id, "session_tag": tag}
                self._open(
                    items,
                    template,
                    session,
                    aid,
                    name,
                    start,
                    self.data_script,
                    derived=repr(derived),
                )
                params = {"activity_id": aid, "parameters": {"StoreImage": True}}
                params["session_tag"] = tag
                items.append(("P", repr(params)))
                used = [
                    ("DL1SubrunDataset", "DL1 subrun dataset", dl1b, dl1b_id),
                    ("AnalysisConfigFile", _CONFIG_ROLE, self.analysis_config, None),
                ]
                gen = [("DL1SubrunDataset", "DL1AB subrun dataset", dl1b, dl1b_id)]
                seconds = (40, 150)
            elif phase == 2:
                self._open(items, template, session, aid, name, start, self.data_script)
                used = [
                    ("DL1SubrunDataset", "DL1AB subrun dataset", dl1b, dl1b_id),
                    ("MuonsSubrunDataset", "Muons subrun dataset", muons, muons_id),
                ]
                check = f"{check_dir}/datacheck_dl1_LST-1.Run{run}"
                check_sub = f"{check}.{sub}.h5"
                gen = [
                    ("DL1CheckHDF5File", "DL1Check HDF5 file", f"{check}.h5", None),
                    ("DL1CheckPDFFile", "DL1Check PDF file", f"{check}.pdf", None),
                    ("DL1CheckSubrunDataset", _CHECK_ROLE, check_sub, _entity_id(check_sub)),
                ]
                seconds = (15, 60)
            else:
                # dl1_to_dl2 as lstosa traced it before 2025 (PR #280): the DL1AB file,
                # the night's RF models and the DL2 config -> the subrun's DL2 file
                self._open(items, template, session, aid, name, start, self.data_script)
                params = {
                    "activity_id": aid,
                    "parameters": {
                        "ObservationRun": run,
                        "ObservationSubRun": sub,
                        "DL1ProdID": DL1_PROD_ID,
                        "DL2ProdID": DL2_PROD_ID,
                    },
                    "session_tag": tag,
                }
                items.append(("P", repr(params)))
                used = [("DL1SubrunDataset", "DL1 subrun dataset", dl1b, dl1b_id)]
                used += [(m, m, f"{self.models_dir}/{f}", None) for m, f in RF_MODELS]
                used.append(("AnalysisConfigFile", _CONFIG_ROLE, self.dl2_config, None))
                dl2 = f"{dl2_dir}/dl2_LST-1.Run{run}.{sub}.h5"
                gen = [("DL2SubrunDataset", "DL2 subrun dataset", dl2, _entity_id(dl2))]
                seconds = (60, 300)
            self._io(items, aid, tag, used, True)
            self._io(items, aid, tag, gen, False)
            end = self._close(items, aid, tag, start, seconds)
            return _Burst(task, items, end)

        return _Task(4 if self.dl2 else 3, make)

    # ---- DL3 (one per run) -----------------------------------------------------------

    def _dl3_task(self, run_index: int, rerun: bool = False) -> _Task:
        """lstchain's DL2 -> DL3 step of one run: every DL2 subrun file of the run, the IRF
        and the DL3 tool config -> the run's DL3 file (which gathers the whole run)."""
        run = f"{self.first_run + run_index:05d}"
        dl2_dir = f"{self.base}/DL2/{self.date}/{PROD_ID}/{DL2_PROD_ID}"
        dl3 = f"{self.base}/DL3/{self.date}/{PROD_ID}/{DL2_PROD_ID}/dl3_LST-1.Run{run}.fits"
        template = self.data_session_new if rerun else self.data_session
        node = self.rng.choice(self.node_names)
        args = [self.data_script, "--config", self.config_file, f"--date={self.date_dash}"]
        args += [f"--prod-id={PROD_ID}", "--dl3", run, "LST1"]

        def make(task: _Task, phase: int, start: int) -> _Burst:
            tag = f"dl2_to_dl3:{run}"
            session = self._session(f"{self.date}{run}", run, tag, args, node, RUN=run)
            aid = self._activity_id()
            items: list[tuple[str, Any]] = []
            self._open(items, template, session, aid, "dl2_to_dl3", start, self.data_script)
            params = {"SourceName": "Crab", "GammanessCut": 0.7, "ThetaCut": 0.2}
            items.append(
                ("P", repr({"activity_id": aid, "parameters": params, "session_tag": tag}))
            )
            used = []
            for subrun in range(self.subruns):
                dl2 = f"{dl2_dir}/dl2_LST-1.Run{run}.{subrun:04d}.h5"
                used.append(("DL2SubrunDataset", "DL2 subrun dataset", dl2, _entity_id(dl2)))
            used.append(("IRFFile", "Instrument response functions", self.irf_file, None))
            used.append(("AnalysisConfigFile", _CONFIG_ROLE, self.dl3_config, None))
            self._io(items, aid, tag, used, True)
            self._io(items, aid, tag, [("DL3RunFile", "DL3 run file", dl3, _entity_id(dl3))], False)
            end = self._close(items, aid, tag, start, (30, 120))
            return _Burst(task, items, end)

        return _Task(1, make)

    def _dl3_waves(self, count: int, rerun: bool = False) -> Iterator[bytes]:
        return self._waves(self._dl3_task(run_index, rerun) for run_index in range(count))

    # ---- emission --------------------------------------------------------------------

    def lines(self) -> Iterator[bytes]:
        for k in range(self.calibration):
            yield from self._wave([self._calibration_task(k)])
        yield from self._waves(
            self._subrun_task(run_index, subrun)
            for run_index in range(self.runs)
            for subrun in range(self.subruns)
        )
        if self.dl3:
            yield from self._dl3_waves(self.runs)
        if self.reprocess:
            yield from self._reprocessing()

    def _reprocessing(self) -> Iterator[bytes]:
        """Calibration rerun (every pair), then the first ``reprocess`` runs again."""
        for k in range(len(self.pairs)):
            yield from self._wave([self._calibration_task(k, rerun=True)])
        yield from self._waves(
            self._subrun_task(run_index, subrun, rerun=True)
            for run_index in range(self.reprocess)
            for subrun in range(self.subruns)
        )
        if self.dl3:
            yield from self._dl3_waves(self.reprocess, rerun=True)

    def _waves(self, tasks: Iterable[_Task]) -> Iterator[bytes]:
        """Run ``tasks`` in waves of ``interleave`` (the last one may be smaller); each task
        is made only when its wave is about to run, so the random draws keep their order."""
        wave: list[_Task] = []
        for task in tasks:
            wave.append(task)
            if len(wave) == self.interleave:
                yield from self._wave(wave)
                wave = []
        if wave:
            yield from self._wave(wave)

    def _wave(self, tasks: list[_Task]) -> Iterator[bytes]:
        """Run ``tasks`` concurrently: per phase, write their bursts interleaved."""
        mix = self.mix
        wave_start = self.now + mix.randrange(1_000_000, 30_000_000)  # SLURM scheduling
        for task in tasks:
            task.last_written = wave_start + mix.randrange(0, 3_000_000)
        for phase in range(tasks[0].phases):
            bursts = []
            for task in tasks:
                start = self._snap(task.last_written + mix.randrange(200_000, 2_000_000), mix)
                bursts.append(task.make_burst(task, phase, start))
            # all bursts of the phase are written together, once the slowest has ended
            self.now = max(self.now, max(b.end for b in bursts) + mix.randrange(2_000, 20_000))
            while bursts:
                i = mix.randrange(len(bursts)) if len(bursts) > 1 else 0
                burst = bursts[i]
                yield self._emit(burst.items[burst.pos], burst.task)
                burst.pos += 1
                if burst.pos == len(burst.items):
                    bursts.pop(i)

    def _emit(self, item: tuple[str, Any], task: _Task) -> bytes:
        kind, payload = item
        if kind == "W":
            return f"{payload}\n".encode()
        mix = self.mix
        if self.interleave > 1 and mix.random() < INVERSION_RATE:
            # descheduled between taking the time and writing: earlier than the line before,
            # but never earlier than this process's own previous line
            t = max(self.now - mix.randrange(1, 200), task.last_written + 1)
        else:
            step = mix.randrange(200, 600) if kind == "S" else mix.randrange(20, 120)
            self.now = self._snap(self.now + step, mix)
            t = self.now
        task.last_written = max(task.last_written, t)
        if kind == "S":
            template, values = payload
            values["UTC"] = self._fmt(t - mix.randrange(40, 150))
            payload = template.render(values)
        return f"INFO provLogger __PROV__{self._fmt(t)}__PROV__{payload}\n".encode()
