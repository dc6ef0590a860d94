// Databricks notebook source
// MAGIC %md
// MAGIC # cellcircuits as Spark ML stages
// MAGIC An atlas's cells as expression vectors → cell sentences and prompts (`CellSentenceTransformer`) → each cell's
// MAGIC circuit (`CircuitTransformer`, with the transcoders a run's `train` stage committed), as one `Pipeline`; then a
// MAGIC transcoder fitted on the run's harvested activations (`TranscoderEstimator`) and the features it finds per cell
// MAGIC type. Each is saved and loaded back. The classes are Java (package `org.cellcircuits.ml`): attach the
// MAGIC cellcircuits jar to the cluster (or `spark-shell --jars target/cellcircuits-*.jar`).
// MAGIC
// MAGIC CI runs this file as it is, in Spark's own REPL (`ScalaNotebookTest`, on the demo run `DemoPipelineTest` makes);
// MAGIC there the paths below come from system properties. Keep each statement's continuation lines inside brackets:
// MAGIC the REPL runs a statement as soon as a line completes it.

// COMMAND ----------

import org.apache.spark.ml.{Pipeline, PipelineModel, PipelineStage}
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions._
import org.cellcircuits.io.RunRoot
import org.cellcircuits.jobs.RunTables
import org.cellcircuits.ml._

// On a cluster: s3a:// paths (or notebook widgets). The run root is one whose harvest and train stages committed.
val atlas = sys.props.getOrElse("cellcircuits.notebook.atlas", "demo/heart_demo.h5ad")
val modelPath = sys.props.getOrElse("cellcircuits.notebook.model", "demo/model")
val runRoot = sys.props.getOrElse("cellcircuits.notebook.run-root", "runs/demo")
val saveTo = sys.props.getOrElse("cellcircuits.notebook.save-to", "/tmp/cellcircuits-notebook")

// COMMAND ----------

// MAGIC %md
// MAGIC Cells as expression vectors: the atlas's first 200 cells, numbered in atlas order in `atlas_row` (the default
// MAGIC `c2s` tie order is cell2sentence's only on a prefix of the atlas numbered this way; see the README).

// COMMAND ----------

val cells = AtlasVectors.read(spark, atlas, 200, 4).cache()
val genes = AtlasVectors.geneNames(atlas)
println(s"${cells.count()} cells over ${genes.length} genes")
// The run's committed tables as views (harvest_predictions, harvest_activations_layer_1, ...), read through each
// stage's commit marker: the model's predictions name what each circuit explains.
val views = RunTables.register(spark, RunRoot.of(runRoot, spark.sparkContext.hadoopConfiguration))
val predictions = spark.table("harvest_predictions").select(col("cell_id").as("p_id"), col("predicted_cell_type"))

// COMMAND ----------

// MAGIC %md
// MAGIC Sentences, prompts and circuits in one `Pipeline` (no estimator in it, so `fit` only assembles the stages).
// MAGIC Tracing is the expensive step: a few cells here; on a cluster, `repartition` the cells to spread them.

// COMMAND ----------

val sentences = new CellSentenceTransformer().setGeneNames(genes).setTopK(64)
val circuits = new CircuitTransformer().setModelPath(modelPath).setRunRoot(runRoot).setMaxFeatureNodes(64)
val pipeline = new Pipeline().setStages(Array[PipelineStage](sentences, circuits))
val firstCells = (cells.where(col("atlas_row") < 4)
  .join(predictions, col("cell_id") === col("p_id"), "left").drop("p_id"))
val fitted = pipeline.fit(firstCells)
val graphs = fitted.transform(firstCells).cache()
(graphs.select("cell_id", "cell_type", "predicted_cell_type", "replacement_score", "completeness_score", "nodes",
  "edges").show(false))

// COMMAND ----------

// MAGIC %md
// MAGIC The genes that drive each cell's prediction: every kept input-token node's attribution, summed per (type, gene),
// MAGIC as the `circuits` stage's `circuits/summary` ranks them.

// COMMAND ----------

val topGenes = (graphs.select(col("cell_type"), explode(col("circuit_nodes")).as("n"))
  .where("n.kind = 'token' AND n.gene IS NOT NULL")
  .groupBy(col("cell_type"), col("n.gene").as("gene"))
  .agg(sum("n.attribution").as("total_attribution"))
  .orderBy(col("cell_type"), desc("total_attribution")))
topGenes.show(12, false)

// COMMAND ----------

// MAGIC %md
// MAGIC Saved and loaded back, the pipeline gives the same rows (all but `seconds`, each cell's wall time). The
// MAGIC `CircuitTransformer`'s saved form is its params: it names the model and the transcoders by path.

// COMMAND ----------

def sortedRows(df: DataFrame): Seq[String] = df.drop("seconds").collect().map(_.toString).sorted.toSeq
fitted.write.overwrite().save(saveTo + "/pipeline")
val reloaded = PipelineModel.load(saveTo + "/pipeline")
require(sortedRows(reloaded.transform(firstCells)) == sortedRows(graphs), "the reloaded pipeline gives other rows")
println(s"NOTEBOOK pipeline: ${graphs.count()} cells traced, ${topGenes.count()} (type, gene) pairs; the reloaded pipeline gives the same rows")

// COMMAND ----------

// MAGIC %md
// MAGIC A transcoder fitted in the notebook on layer 1's harvested MLP inputs and outputs (the view
// MAGIC `harvest_activations_layer_1`, fp16): 160 steps of 512 tokens over 40,960 of its tokens (the scaling estimate reads from the same stream, hence up to three passes), on the driver (set
// MAGIC `dataParallelWorkers` and `dataShards` to train on the executors). The rows' order is the training order, so it
// MAGIC is fixed first; the first `scalingBatches` batches estimate the activation scales.

// COMMAND ----------

val tokens = (spark.table("harvest_activations_layer_1")
  .select("cell_id", "pos", "gene_symbol", "mlp_in", "mlp_out")
  .orderBy("cell_id", "pos").limit(40960).cache())
val estimator = (new TranscoderEstimator().setLayer(1).setActivation("topk").setK(4)
  .setTrainingTokens(2 * 40960).setMaxEpochs(3).setTrainBatchSizeTokens(512).setScalingBatches(10).setLr(1e-3)
  .setLrWarmUpSteps(10).setLrDecaySteps(40).setL1WarmUpSteps(10).setResampleDeadFeatures(false))
val transcoder = estimator.fit(tokens)
val encoded = transcoder.transform(tokens)
val l0 = encoded.select(avg(udf((v: org.apache.spark.ml.linalg.Vector) => v.numNonzeros).apply(col("features")))).head.getDouble(0)
println(f"NOTEBOOK transcoder: d_sae ${transcoder.config().dSae()}, mean L0 $l0%.2f active features a token")

// COMMAND ----------

// MAGIC %md
// MAGIC Which features fire on which genes: each (feature, gene) pair's firing count over these tokens.

// COMMAND ----------

val firing = (encoded
  .select(col("gene_symbol"), explode(udf((v: org.apache.spark.ml.linalg.Vector) => v.toSparse.indices).apply(col("features"))).as("feature"))
  .where(col("gene_symbol").isNotNull)
  .groupBy("feature", "gene_symbol").count()
  .orderBy(desc("count")))
firing.show(10, false)

// COMMAND ----------

// MAGIC %md
// MAGIC The fitted transcoder saved in MLlib's layout; its `data/` is a train-stage transcoder folder
// MAGIC (`weights.safetensors` + SAELens `cfg.json`), so SAELens loads it as well.

// COMMAND ----------

transcoder.write.overwrite().save(saveTo + "/transcoder-layer-1")
val loaded = TranscoderModel.load(saveTo + "/transcoder-layer-1")
val sample = tokens.limit(256).cache()   // cached: an uncached limit may pick other rows each time
val encodedBy = (m: TranscoderModel) => m.transform(sample).select("cell_id", "pos", "features", "reconstruction")
require(sortedRows(encodedBy(loaded)) == sortedRows(encodedBy(transcoder)), "the reloaded transcoder encodes otherwise")
println(s"NOTEBOOK done: the reloaded transcoder gives the same features; views registered: ${views.size()}")
