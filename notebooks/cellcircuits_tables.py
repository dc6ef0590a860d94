# Databricks notebook source
# MAGIC %md
# MAGIC # cellcircuits tables
# MAGIC Registers every committed table of a cellcircuits run root as a temporary view, then runs the analyst queries of
# MAGIC `queries/`: which features drive a cell type, which genes a feature reads, how faithful the transcoders are.
# MAGIC Tables are found through each stage's `_COMMITTED.json` marker, never by listing attempt folders: a crashed or
# MAGIC running attempt is never read. Works in Databricks, EMR notebooks and a local `pyspark` shell (run from the
# MAGIC repository root or from `notebooks/`).
# MAGIC
# MAGIC The SQL lives only in `queries/*.sql`, one query per file, so the Java tests run the very same text on a fixture
# MAGIC run root and on the demo's outputs (`org.cellcircuits.jobs.NamedQuery`, `RunTables`). Each file opens with
# MAGIC `-- param: <name> string|int|double [= default]` lines; `${name}` in the body becomes the value as a SQL literal.
# MAGIC The view names and the skipped non-Parquet entries below must stay as `RunTables` makes them.

# COMMAND ----------

import json
import os
import re

RUN_ROOT = "s3a://my-bucket/cellcircuits/heart-v2"   # or "runs/demo" locally
QUERIES = "queries" if os.path.isdir("queries") else "notebooks/queries"
STAGES = ["sentences", "harvest", "train", "evaluate", "circuits", "interpret"]
NOT_PARQUET_FOLDERS = {"transcoders", "export", "report"}


def read_text(path):
    """A small file's text through Spark (any file system Spark reads), or None when it does not exist."""
    try:
        return "\n".join(r.value for r in spark.read.text(path).collect())
    except Exception:
        return None


def view_name(stage, table):
    """<stage>_<table> with non-identifier characters as '_', the stage not repeated (circuits/summary in circuits
    is circuits_summary); None for entries that are not Parquet tables (files with an extension, anything in a
    transcoders, export or report folder)."""
    segments = table.split("/")
    if re.fullmatch(r".*\.[A-Za-z][A-Za-z0-9]*", segments[-1]) or NOT_PARQUET_FOLDERS & set(segments):
        return None
    prefixed = table == stage or table.startswith(stage + "/") or table.startswith(stage + "_")
    return re.sub(r"[^A-Za-z0-9_]", "_", table if prefixed else f"{stage}_{table}")


def register(root):
    """Creates a temp view for every committed Parquet table of the run root; returns {view: path}. A table with a
    harvest _manifest.json is read through it (only the files the harvest committed)."""
    views = {}
    for stage in STAGES:
        text = read_text(f"{root.rstrip('/')}/{stage}/_COMMITTED.json")
        if text is None:
            continue
        marker = json.loads(text)
        for table in sorted(marker["row_counts"]):
            name = view_name(stage, table)
            if name is None:
                continue
            if name in views:
                raise ValueError(f"view {name} is made by two tables: {views[name]} and {table}")
            path = f"{root.rstrip('/')}/{stage}/{marker['attempt_folder']}/{table}"
            manifest = read_text(f"{path}/_manifest.json")
            files = [f"{path}/{f['name']}" for f in json.loads(manifest)["files"]] if manifest else [path]
            spark.read.parquet(*files).createOrReplaceTempView(name)
            views[name] = path
    return views


def query(name, **values):
    """The query queries/<name>.sql with its ${params} replaced by literals: strings quoted, numbers checked."""
    text = open(f"{QUERIES}/{name}.sql").read()
    params = {m[0]: (m[1], m[2] or None) for m in re.findall(
        r"^--\s*param:\s*(\w+)\s+(string|int|double)\s*(?:=\s*(.*?))?\s*$", text, re.M)}
    unknown = set(values) - set(params)
    if unknown:
        raise ValueError(f"query {name} has no param {sorted(unknown)}; its params are {sorted(params)}")

    def literal(p):
        kind, default = params[p]
        value = values.get(p, default)
        if value is None:
            raise ValueError(f"query {name} needs a value for param {p} ({kind})")
        if kind == "string":
            return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
        if kind == "int" and not re.fullmatch(r"-?[0-9]+", str(value).strip()):
            raise ValueError(f"query {name} param {p} is '{value}'; expected an integer")
        return str(value).strip() if kind == "int" else repr(float(value))

    return spark.sql(re.sub(r"\$\{(\w+)\}", lambda m: literal(m.group(1)), text))


print(register(RUN_ROOT))

# COMMAND ----------

# MAGIC %md ## Which features drive a cell type

# COMMAND ----------

CELL_TYPE = "endothelial cell"
query("features_driving_cell_type", cell_type=CELL_TYPE, top=10).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Which genes a feature reads (here: the cell type's top feature)

# COMMAND ----------

top = query("features_driving_cell_type", cell_type=CELL_TYPE, top=1).first()
query("genes_feature_reads", layer=top.layer, feature=top.feature).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## How interpretable the features are: the share of live features that are gene-level, per layer

# COMMAND ----------

for threshold in (0.3, 0.5, 0.7, 0.9):
    query("interpretability_by_layer", threshold=threshold).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## How faithful the transcoders are: the model with them in place of its MLPs, and each layer alone

# COMMAND ----------

query("faithfulness_by_variant").show(truncate=False)
query("faithfulness_by_layer").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## How faithful the circuits are, per cell type, and the input genes they are read in

# COMMAND ----------

query("circuit_faithfulness_by_type").show(truncate=False)
query("circuit_input_genes_by_type", top=10).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Whether attributions predict knock-outs (the interpret stage's validation, when it has run)

# COMMAND ----------

if spark.catalog.tableExists("interpret_validation_summary"):
    query("validation_summary").show(truncate=False)
    query("validation_top_knockouts", cell_type=CELL_TYPE, top=10).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Features that several cell types' circuits share (candidates for shared programmes)

# COMMAND ----------

query("shared_features", min_share=0.5, min_types=2).show(20, truncate=False)

# COMMAND ----------

# MAGIC %md ## One cell's circuit: its strongest edges, with the genes its token nodes spell

# COMMAND ----------

CELL = spark.sql("SELECT min(cell_id) AS c FROM circuits_graphs").first().c
query("cell_circuit_edges", cell_id=CELL, top=25).show(truncate=False)

# COMMAND ----------

# MAGIC %md ## The sentences: cells per type, the genes that lead them, where a marker sits

# COMMAND ----------

query("cells_per_type").show(truncate=False)
query("leading_genes_per_type", ranks=5, per_type=5).show(100, truncate=False)
query("marker_rank_by_type", gene="VWF").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Transcoder training: the last steps of each layer, and the curves (plot with display() on Databricks)

# COMMAND ----------

query("training_last_steps", last_steps=20).show(truncate=False)
query("training_curves", every=50).show(40, truncate=False)
