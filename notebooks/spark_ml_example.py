# Databricks notebook source
# MAGIC %md
# MAGIC # cellcircuits as Spark ML stages
# MAGIC Expression vectors → cell sentences and prompts (`CellSentenceTransformer`) → each cell's circuit
# MAGIC (`CircuitTransformer`, with the transcoders a train stage committed) → the genes that drive each cell type, in one
# MAGIC `Pipeline`. The stages are Java classes (package `org.cellcircuits.ml`) on the cluster's classpath (attach the
# MAGIC cellcircuits jar to the cluster, or `pyspark --jars target/cellcircuits-*.jar`). Python reaches them in two ways:
# MAGIC - **as Python ML stages**: a thin `pyspark.ml.wrapper.JavaTransformer` subclass whose `_java_obj` is the Java object
# MAGIC   (below: `java_stage`), so `Pipeline`, `transform` and `save`/`load` work as for MLlib's own stages; params are
# MAGIC   set on the Java object through its setters;
# MAGIC - **directly**: `spark._jvm.org.cellcircuits.ml.CircuitTransformer()` and `DataFrame(jt.transform(df._jdf), spark)`.
# MAGIC
# MAGIC The same steps run as a Java test on a tiny model (`CircuitTransformerTest.notebookStepsRunAsAPipeline`).

# COMMAND ----------

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.linalg import Vectors
from pyspark.ml.wrapper import JavaTransformer
from pyspark.sql import functions as F

RUN_ROOT = "s3a://my-bucket/cellcircuits/heart-v2"    # a run whose train stage committed (or "runs/demo" locally)
MODEL = "s3a://my-bucket/models/c2s-pythia-410m"      # the checkpoint the transcoders were trained on


class JavaStage(JavaTransformer):
    """A Python ML stage around a Java one; its params live on the Java object (set them there)."""

    def __init__(self, java_obj):
        super().__init__()
        self._java_obj = java_obj
        self.uid = java_obj.uid()


def java_stage(class_name):
    """A new Java stage of org.cellcircuits.ml and its Python wrapper."""
    jvm_class = getattr(spark._jvm.org.cellcircuits.ml, class_name)
    java_obj = jvm_class()
    return java_obj, JavaStage(java_obj)


def string_array(values):
    """A Java String[] (for params such as geneNames)."""
    arr = spark._sc._gateway.new_array(spark._jvm.java.lang.String, len(values))
    for i, v in enumerate(values):
        arr[i] = v
    return arr

# COMMAND ----------

# MAGIC %md
# MAGIC Cells as expression vectors, one row each (here four hand-made cells; in practice an atlas read into a DataFrame
# MAGIC of `ml.linalg` Vectors). `ties = gene-order` is row-wise; the default `c2s` needs the whole atlas numbered in
# MAGIC `atlas_row` (see the README).

# COMMAND ----------

genes = ["MYH7", "MYL2", "FHL2", "VWF", "PECAM1", "CDH5", "DCN", "LUM", "PTPRC", "CD3E"]
cells = spark.createDataFrame([
    ("cell-a", "ventricular cardiomyocyte", Vectors.sparse(10, [0, 1, 2, 9], [9.0, 7.0, 5.0, 1.0])),
    ("cell-b", "endothelial cell", Vectors.sparse(10, [3, 4, 5, 6], [8.0, 6.0, 6.0, 2.0])),
    ("cell-c", "fibroblast", Vectors.sparse(10, [6, 7, 0], [9.0, 4.0, 1.0])),
    ("cell-d", "lymphoid cell", Vectors.sparse(10, [8, 9, 3], [7.0, 5.0, 2.0])),
], ["cell_id", "cell_type", "expression"])

sentences_j, sentences = java_stage("CellSentenceTransformer")
sentences_j.setInputCol("expression").setGeneNames(string_array(genes)).setTopK(6).setTies("gene-order")

circuits_j, circuits = java_stage("CircuitTransformer")
circuits_j.setModelPath(MODEL).setRunRoot(RUN_ROOT).setMaxFeatureNodes(64).setAblationFeatures(3)
# or the transcoder folders: circuits_j.setTranscoderFolders(string_array([".../transcoders/layer=3", ...]))

pipeline = Pipeline(stages=[sentences, circuits])
model = pipeline.fit(cells)                # no estimator: fit only assembles the stages
graphs = model.transform(cells).cache()    # one row per cell: graph columns + circuit_nodes + circuit_edges
graphs.select("cell_id", "target", "replacement_score", "completeness_score", "nodes", "edges").show(truncate=False)

# COMMAND ----------

# MAGIC %md
# MAGIC The genes that drive each cell type: every kept token node's attribution, summed per (type, gene) — the
# MAGIC `circuits` stage's `circuits/summary` gene ranking, on these cells.

# COMMAND ----------

top_genes = (graphs
             .select("cell_type", F.explode("circuit_nodes").alias("n"))
             .where("n.kind = 'token' AND n.gene IS NOT NULL")
             .groupBy("cell_type", "n.gene").agg(F.sum("n.attribution").alias("total_attribution"))
             .orderBy("cell_type", F.desc("total_attribution")))
top_genes.show(40, truncate=False)

# COMMAND ----------

# MAGIC %md
# MAGIC Calling a stage directly, without the wrapper, and saving: the CircuitTransformer's saved form is its params only
# MAGIC (`metadata/`); it names the model and the transcoders by path, so they must still be there when it is loaded.

# COMMAND ----------

from pyspark.sql import DataFrame

prompts = DataFrame(sentences_j.transform(cells._jdf), spark)
direct = DataFrame(circuits_j.transform(prompts._jdf), spark)
circuits_j.write().overwrite().save("/tmp/cellcircuits/circuit-transformer")
again = spark._jvm.org.cellcircuits.ml.CircuitTransformer.load("/tmp/cellcircuits/circuit-transformer")
