"""``ivoa.obscore``: IVOA ObsCore 1.1 table of the archive's science products.

One row per data product (DL1, DL2 and DL3 files; see :mod:`provdb.obscore` for which
entities qualify and where each value comes from), with the 30 mandatory ObsCore 1.1
columns (names, types, units, UCDs and utypes of the standard's table 6, which
``stilts taplint``'s OBS stage checks) and provdb's own columns after them: the
producing software and version, the step (activity), the quality flags of
``archive.product_flag``, the entity and its path.

It is an incrementally maintained table, not a view (``bench/README.md``: a cone search
on the indexed ``s_dec``/``s_ra`` columns of a table, against the same query on a view
computing them from the entities' scan metadata): ingest and scan refresh the rows of the
entities they touched, in their own transaction.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped

from provdb.schema.base import PROVENANCE, Base, tap_column

__all__ = ["IVOA", "ObsCore"]

#: The schema ObsCore prescribes for its table.
IVOA = "ivoa"
_OBS = "obscore:"
_NOW = sa.text("(now() at time zone 'utc')")


def _std(
    type_: object, description: str, utype: str, ucd: str, *, nullable: bool = True, **kw: object
) -> object:
    """A column defined by ObsCore 1.1 (flagged std)."""
    col = tap_column(
        type_, description=description, utype=_OBS + utype, ucd=ucd, nullable=nullable, **kw
    )
    col.column.info["std"] = True
    return col


_SPACE = "Char.SpatialAxis."
_TIME = "Char.TimeAxis."
_SPEC = "Char.SpectralAxis."


class ObsCore(Base):
    __tablename__ = "obscore"
    __table_args__ = (
        # the box prefilter of cone searches (ADQL CONTAINS(POINT, CIRCLE)) uses it
        sa.Index("ix_obscore_s_dec_s_ra", "s_dec", "s_ra"),
        sa.Index("ix_obscore_t_min", "t_min"),
        sa.Index("ix_obscore_obs_publisher_did", "obs_publisher_did", unique=True),
        {
            "schema": IVOA,
            "comment": "ObsCore 1.1: one row per science product (DL1, DL2, DL3 files) with "
            "its observation, pointing, time and energy coverage and access, plus provdb's "
            "provenance columns (software, version, step, quality flags); kept current by "
            "ingest and scan",
            "info": {"utype": "ivo://ivoa.net/std/obscore#table-1.1"},
        },
    )

    dataproduct_type: Mapped[str | None] = _std(
        sa.Text,
        "Data product type: event (event lists: DL1, DL2 and DL3 files)",
        "ObsDataset.dataProductType",
        "meta.code.class",
        principal=True,
    )
    calib_level: Mapped[int | None] = _std(
        sa.Integer,
        "Calibration level: 1 (DL1 calibrated images and parameters, DL2 reconstructed "
        "events), 2 (DL3: science-ready gamma-like event lists)",
        "ObsDataset.calibLevel",
        "meta.code;obs.calib",
        principal=True,
    )
    obs_collection: Mapped[str | None] = _std(
        sa.Text,
        "Collection (PROVDB_OBSCORE_COLLECTION, default LST-1)",
        "DataID.Collection",
        "meta.id",
        principal=True,
    )
    obs_id: Mapped[str | None] = _std(
        sa.Text,
        "Observation (run) identifier: the run number (OBS_ID of a DL3 file), else the entity id",
        "DataID.observationID",
        "meta.id",
        principal=True,
    )
    obs_publisher_did: Mapped[str] = _std(
        sa.Text,
        "Publisher's identifier of the product: ivo://<authority>?<entity id> "
        "(PROVDB_OBSCORE_AUTHORITY); the DataLink ID",
        "Curation.PublisherDID",
        "meta.ref.ivoid",
        nullable=False,
        principal=True,
    )
    access_url: Mapped[str | None] = _std(
        sa.Text,
        "URL of the file (PROVDB_OBSCORE_ACCESS_URL pattern), else of its DataLink document",
        "Access.Reference",
        "meta.ref.url",
        principal=True,
    )
    access_format: Mapped[str | None] = _std(
        sa.Text,
        "MIME type of what access_url returns (application/fits, application/x-hdf5, or "
        "the DataLink VOTable)",
        "Access.Format",
        "meta.code.mime",
    )
    access_estsize: Mapped[int | None] = _std(
        sa.BigInteger,
        "Estimated size of the file",
        "Access.Size",
        "phys.size;meta.file",
        unit="kbyte",
    )
    target_name: Mapped[str | None] = _std(
        sa.Text, "Observed target (OBJECT of a DL3 file)", "Target.Name", "meta.id;src"
    )
    s_ra: Mapped[float | None] = _std(
        sa.Double,
        "Right ascension (ICRS) of the pointing (RA_PNT of a DL3 file; DL1/DL2: from the "
        "alt/az of the first valid event or pointing row at LST-1, as lstchain computes RA_PNT)",
        _SPACE + "Coverage.Location.Coord.Position2D.Value2.C1",
        "pos.eq.ra",
        unit="deg",
        principal=True,
    )
    s_dec: Mapped[float | None] = _std(
        sa.Double,
        "Declination (ICRS) of the pointing (DEC_PNT of a DL3 file; DL1/DL2: from the "
        "alt/az of the first valid event or pointing row at LST-1, as lstchain computes DEC_PNT)",
        _SPACE + "Coverage.Location.Coord.Position2D.Value2.C2",
        "pos.eq.dec",
        unit="deg",
        principal=True,
    )
    s_fov: Mapped[float | None] = _std(
        sa.Double,
        "Diameter of the field of view (PROVDB_OBSCORE_FOV, default 4.5 degrees for LST-1)",
        _SPACE + "Coverage.Bounds.Extent.diameter",
        "phys.angSize;instr.fov",
        unit="deg",
    )
    s_region: Mapped[str | None] = _std(
        sa.Text,
        "Sky region covered: the field of view around the pointing (STC-S CIRCLE ICRS)",
        _SPACE + "Coverage.Support.Area",
        "pos.outline;obs.field",
        xtype="adql:REGION",
    )
    s_resolution: Mapped[float | None] = _std(
        sa.Double,
        "Angular resolution (unknown: null)",
        _SPACE + "Resolution.Refval.value",
        "pos.angResolution",
        unit="arcsec",
    )
    s_xel1: Mapped[int | None] = _std(
        sa.BigInteger,
        "Pixels along the first axis (event lists: null)",
        _SPACE + "numBins1",
        "meta.number",
    )
    s_xel2: Mapped[int | None] = _std(
        sa.BigInteger,
        "Pixels along the second axis (event lists: null)",
        _SPACE + "numBins2",
        "meta.number",
    )
    t_min: Mapped[float | None] = _std(
        sa.Double,
        "Start of the observation (MJD, from TSTART and MJDREF of a DL3 file; DL1/DL2: "
        "the earliest valid event time)",
        _TIME + "Coverage.Bounds.Limits.StartTime",
        "time.start;obs.exposure",
        unit="d",
        principal=True,
    )
    t_max: Mapped[float | None] = _std(
        sa.Double,
        "End of the observation (MJD, from TSTOP and MJDREF of a DL3 file; DL1/DL2: "
        "the latest valid event time)",
        _TIME + "Coverage.Bounds.Limits.StopTime",
        "time.end;obs.exposure",
        unit="d",
        principal=True,
    )
    t_exptime: Mapped[float | None] = _std(
        sa.Double,
        "Exposure time (LIVETIME, else ONTIME of a DL3 file)",
        _TIME + "Coverage.Support.Extent",
        "time.duration;obs.exposure",
        unit="s",
    )
    t_resolution: Mapped[float | None] = _std(
        sa.Double,
        "Time resolution (unknown: null)",
        _TIME + "Resolution.Refval.value",
        "time.resolution",
        unit="s",
    )
    t_xel: Mapped[int | None] = _std(
        sa.BigInteger, "Time bins (event lists: null)", _TIME + "numBins", "meta.number"
    )
    em_min: Mapped[float | None] = _std(
        sa.Double,
        "Shortest wavelength (h c / highest energy: TLMAX of a DL3 file's ENERGY column)",
        _SPEC + "Coverage.Bounds.Limits.LoLimit",
        "em.wl;stat.min",
        unit="m",
    )
    em_max: Mapped[float | None] = _std(
        sa.Double,
        "Longest wavelength (h c / lowest energy: TLMIN of a DL3 file's ENERGY column)",
        _SPEC + "Coverage.Bounds.Limits.HiLimit",
        "em.wl;stat.max",
        unit="m",
    )
    em_res_power: Mapped[float | None] = _std(
        sa.Double,
        "Spectral resolving power (unknown: null)",
        _SPEC + "Resolution.ResolPower.refVal",
        "spect.resolution",
    )
    em_xel: Mapped[int | None] = _std(
        sa.BigInteger, "Spectral bins (event lists: null)", _SPEC + "numBins", "meta.number"
    )
    o_ucd: Mapped[str | None] = _std(
        sa.Text,
        "UCD of the observable: phot.count (events)",
        "Char.ObservableAxis.ucd",
        "meta.ucd",
    )
    pol_states: Mapped[str | None] = _std(
        sa.Text,
        "Polarization states (none: null)",
        "Char.PolarizationAxis.stateList",
        "meta.code;phys.polarization",
    )
    pol_xel: Mapped[int | None] = _std(
        sa.BigInteger,
        "Polarization bins (none: null)",
        "Char.PolarizationAxis.numBins",
        "meta.number",
    )
    facility_name: Mapped[str | None] = _std(
        sa.Text,
        "Telescope (PROVDB_OBSCORE_FACILITY, default LST-1; TELESCOP of a DL3 file)",
        "Provenance.ObsConfig.Facility.name",
        "meta.id;instr.tel",
        principal=True,
    )
    instrument_name: Mapped[str | None] = _std(
        sa.Text,
        "Instrument (PROVDB_OBSCORE_INSTRUMENT, default LSTCam; INSTRUME of a DL3 file)",
        "Provenance.ObsConfig.Instrument.name",
        "meta.id;instr",
    )
    # ---- provdb's columns (not in ObsCore)
    entity_id: Mapped[str] = tap_column(
        sa.Text,
        sa.ForeignKey(f"{PROVENANCE}.entity.id"),
        primary_key=True,
        description="The product's entity (provenance.entity.id)",
        ucd="meta.id;meta.main",
        principal=True,
    )
    data_level: Mapped[str | None] = tap_column(
        sa.Text,
        description="Data level: DL1, DL2 or DL3 (scanned file, else entity or file name)",
        ucd="meta.code.class",
        principal=True,
    )
    software_name: Mapped[str | None] = tap_column(
        sa.Text,
        description="Software that produced the product (lstchain, ctapipe, ...): from the "
        "file's metadata (provdb scan), else the generating activity's session",
        ucd="meta.id;meta.software",
        principal=True,
    )
    software_version: Mapped[str | None] = tap_column(
        sa.Text,
        description="Its version, without a leading 'v' (0.9.13)",
        ucd="meta.version",
        principal=True,
    )
    activity_name: Mapped[str | None] = tap_column(
        sa.Text,
        description="The step that produced the product (name of its generating activity)",
        ucd="meta.title",
        principal=True,
    )
    activity_id: Mapped[str | None] = tap_column(
        sa.Text,
        description="Its generating activity (provenance.activity.id; the latest one)",
        ucd="meta.id",
    )
    quality_flags: Mapped[str | None] = tap_column(
        sa.Text,
        description="Quality flags of archive.product_flag, comma-separated rules (stale, "
        "mixed-versions, failed-ancestor, missing-input, hash-conflict); null: not flagged",
        ucd="meta.code.qual",
        principal=True,
    )
    n_flags: Mapped[int] = tap_column(
        sa.Integer,
        nullable=False,
        server_default="0",
        description="Number of quality flags (0: not flagged)",
        ucd="meta.number",
    )
    location: Mapped[str | None] = tap_column(
        sa.Text, description="Path of the file", ucd="meta.ref;meta.file"
    )
    updated: Mapped[datetime] = tap_column(
        sa.DateTime(timezone=False),
        nullable=False,
        server_default=_NOW,
        description="When the row was last computed (UTC)",
        ucd="time.processing",
        xtype="timestamp",
    )
