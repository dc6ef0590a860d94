# Databricks notebook source
# MAGIC %md
# MAGIC # cellcircuits tables
# MAGIC Registers every committed table of a cellcircuits run root as a temporary view, then shows a few analyst
# MAGIC queries. Tables are found through each stage's `_COMMITTED.json` marker, never by listing attempt folders:
# MAGIC a crashed or running attempt is never read. Works in Databricks, EMR notebooks and a local `pyspark` shell.

# COMMAND ----------

import json
import re

RUN_ROOT = "s3a://my-bucket/cellcircuits/heart-v2"   # or "runs/demo" locally
STAGES = ["sentences", "harvest", "train", "evaluate", "circuits", "interpret"]


def read_marker(root, stage):
    """The stage's commit marker as a dict, or None when the stage has not committed."""
    path = f"{root.rstrip('/')}/{stage}/_COMMITTED.json"
    try:
        text = "\n".join(r.value for r in spark.read.text(path).collect())
    except Exception:
        return None
    return json.loads(text)


# Tables that are folders of other files, not Parquet: transcoders/layer=L is cfg.json + weights.safetensors,
# circuits/export holds circuit-tracer JSON, circuits/summary.txt is the printed table.
NOT_PARQUET = ("transcoders/", "circuits/export", "circuits/summary.txt")


def register(root):
    """Creates a temp view <stage>_<table> for every committed Parquet table (activations/layer=3 becomes
    harvest_activations_layer_3); returns {view: path}."""
    views = {}
    for stage in STAGES:
        marker = read_marker(root, stage)
        if marker is None:
            continue
        for table in marker["row_counts"]:
            if table.startswith(NOT_PARQUET):
                continue
            path = f"{root.rstrip('/')}/{stage}/{marker['attempt_folder']}/{table}"
            name = f"{stage}_{table}" if table != stage else stage
            name = re.sub(r"[^A-Za-z0-9_]", "_", name)
            spark.read.parquet(path).createOrReplaceTempView(name)
            views[name] = path
    return views


register(RUN_ROOT)

# COMMAND ----------

# MAGIC %md ## Cells per type, and how many genes they express

# COMMAND ----------

spark.sql("""
  SELECT cell_type, count(*) AS cells, percentile(n_expressed, 0.5) AS median_genes_expressed
  FROM sentences GROUP BY cell_type ORDER BY cells DESC
""").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## The genes that most often lead the sentences of each cell type (top 5 ranks)

# COMMAND ----------

spark.sql("""
  SELECT cell_type, gene, cells_with_gene_in_top5 FROM (
    SELECT cell_type, gene, count(*) AS cells_with_gene_in_top5,
           row_number() OVER (PARTITION BY cell_type ORDER BY count(*) DESC) AS place
    FROM (SELECT cell_type, explode(slice(genes, 1, 5)) AS gene FROM sentences)
    GROUP BY cell_type, gene)
  WHERE place <= 5
  ORDER BY cell_type, cells_with_gene_in_top5 DESC
""").show(100, truncate=False)

# COMMAND ----------

# MAGIC %md ## Where a marker gene sits in each cell type's sentences (rank 0 = highest expressed)

# COMMAND ----------

MARKER = "VWF"
spark.sql(f"""
  SELECT cell_type, count(*) AS cells, avg(CASE WHEN array_contains(genes, '{MARKER}') THEN array_position(genes, '{MARKER}') - 1 END)
         AS mean_rank_when_present,
         avg(CASE WHEN array_contains(genes, '{MARKER}') THEN 1.0 ELSE 0.0 END) AS share_of_cells_with_it
  FROM sentences GROUP BY cell_type ORDER BY share_of_cells_with_it DESC
""").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Transcoder training: the last steps of each layer (explained variance, L0, dead features)

# COMMAND ----------

spark.sql("""
  SELECT layer, max(step) + 1 AS steps, max(tokens_seen) AS tokens,
         avg(explained_variance) AS ev_last_20_steps, avg(l0) AS l0_last_20_steps,
         max_by(dead_fraction, step) AS dead_fraction_at_end
  FROM (SELECT *, row_number() OVER (PARTITION BY layer ORDER BY step DESC) AS back FROM train_train_log)
  WHERE back <= 20
  GROUP BY layer ORDER BY layer
""").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Training curves: loss, mse and L0 every 50 steps (plot with display() on Databricks)

# COMMAND ----------

spark.sql("""
  SELECT layer, step, loss, mse, l0, explained_variance, lr, l1_coefficient
  FROM train_train_log WHERE step % 50 = 0 ORDER BY layer, step
""").show(40, truncate=False)

# COMMAND ----------

# MAGIC %md ## Circuits: how faithful each cell type's graphs are, and whether their features matter causally

# COMMAND ----------

spark.sql("""
  SELECT cell_type, count(*) AS cells, avg(replacement_score) AS replacement, avg(completeness_score) AS completeness,
         avg(error_share) AS error_share, avg(CASE WHEN ablation_top_drop > ablation_random_drop THEN 1.0 ELSE 0.0 END)
         AS causal_agreement, avg(nodes) AS kept_nodes, avg(edges) AS kept_edges, avg(seconds) AS seconds_per_cell
  FROM circuits_circuits_graphs GROUP BY cell_type ORDER BY cell_type
""").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## The input genes each cell type's circuits are read in (top 10 by total attribution)

# COMMAND ----------

spark.sql("""
  SELECT cell_type, concat_ws(' ', collect_list(gene)) AS top_genes FROM (
    SELECT cell_type, gene, rank FROM circuits_circuits_summary WHERE kind = 'gene' AND rank <= 10 ORDER BY rank)
  GROUP BY cell_type ORDER BY cell_type
""").show(truncate=False)

# COMMAND ----------

# MAGIC %md ## Features that several cell types' circuits share (candidates for shared programmes)

# COMMAND ----------

spark.sql("""
  SELECT layer, feature, count(DISTINCT cell_type) AS types, sum(cells) AS cells,
         concat_ws(', ', collect_list(cell_type)) AS cell_types
  FROM circuits_circuits_summary WHERE kind = 'feature' AND share >= 0.5
  GROUP BY layer, feature HAVING types >= 2 ORDER BY types DESC, cells DESC
""").show(20, truncate=False)

# COMMAND ----------

# MAGIC %md ## One cell's circuit: its strongest edges, with the genes its token nodes spell

# COMMAND ----------

CELL = spark.sql("SELECT min(cell_id) AS c FROM circuits_circuits_graphs").first().c
spark.sql(f"""
  SELECT e.source, s.gene AS source_gene, e.target, e.weight
  FROM circuits_circuits_edges e
  JOIN circuits_circuits_nodes s ON s.cell_id = e.cell_id AND s.node_id = e.source
  WHERE e.cell_id = '{CELL}' ORDER BY abs(e.weight) DESC LIMIT 25
""").show(truncate=False)
