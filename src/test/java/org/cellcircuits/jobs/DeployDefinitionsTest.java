package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The scheduler definitions in {@code deploy/} (EMR steps and cluster configuration, the Databricks job, the Airflow
 * DAG), checked without those services: the JSON parses; every stage of {@link StageRegistry#defaults()} appears
 * exactly once in each, after or depending on exactly its {@link Stage#upstream()} stages; spark-submit names the real
 * main class, the stage, and config keys that exist; the Java 17 flags are the pom's {@code spark.java17.opens}. The
 * Airflow DAG is Python and no Airflow is installed here, so it is read as text.
 */
class DeployDefinitionsTest {
  private static final String MAIN = CellCircuits.class.getName();
  private static final Config REFERENCE = ConfigLoader.reference();

  /** The registry's stages and what each reads, in pipeline order. */
  private static Map<String, Set<String>> registry() {
    Map<String, Set<String>> out = new LinkedHashMap<>();
    for (Stage s : StageRegistry.defaults().inOrder()) {
      out.put(s.name(), new TreeSet<>(s.upstream()));
    }
    return out;
  }

  /** The pom's {@code spark.java17.opens}, one flag per element. */
  private static List<String> pomOpens() throws IOException {
    Matcher m = Pattern.compile("<spark\\.java17\\.opens>(.*?)</spark\\.java17\\.opens>")
        .matcher(Files.readString(Path.of("pom.xml")));
    assertThat(m.find()).as("pom.xml has the spark.java17.opens property").isTrue();
    return List.of(m.group(1).trim().split("\\s+"));
  }

  /** The Java 17 flags inside a JVM options string: --add-opens and the reflection switch, in order. */
  private static List<String> opensIn(String javaOptions) {
    return Stream.of(javaOptions.trim().split("\\s+"))
        .filter(t -> t.startsWith("--add-opens") || t.startsWith("-Djdk.reflect")).toList();
  }

  private static JsonElement json(String file) throws IOException {
    return JsonParser.parseString(Files.readString(Path.of(file)));
  }

  /** cellcircuits arguments (after the stage name): {@code --config} present, each {@code --set} key in the reference. */
  private static void checkAppArguments(String where, List<String> app) {
    assertThat(app).as("%s: cellcircuits arguments", where).contains("--config", "--root");
    for (int i = 0; i < app.size(); i++) {
      if (app.get(i).equals("--set")) {
        String kv = app.get(i + 1);
        String key = kv.substring(0, kv.indexOf('='));
        String full = key.startsWith("cellcircuits.") ? key : "cellcircuits." + key;
        assertThat(REFERENCE.hasPathOrNull(full)).as("%s: --set %s names a key of conf/reference.conf", where, kv)
            .isTrue();
      }
    }
  }

  @Test
  void emrStepsRunEveryStageOnceInPipelineOrderWithTheMainClassAndTheJava17Flags() throws IOException {
    Map<String, Set<String>> stages = registry();
    List<String> opens = pomOpens();
    List<String> order = new ArrayList<>();
    for (JsonElement e : json("deploy/emr/steps.json").getAsJsonArray()) {
      List<String> args = new ArrayList<>();
      e.getAsJsonObject().getAsJsonArray("Args").forEach(a -> args.add(a.getAsString()));
      assertThat(args.get(0)).isEqualTo("spark-submit");
      int cls = args.indexOf("--class");
      assertThat(args.get(cls + 1)).as("main class").isEqualTo(MAIN);
      String stage = args.get(cls + 3);
      assertThat(e.getAsJsonObject().get("Name").getAsString()).isEqualTo("cellcircuits " + stage);
      order.add(stage);
      checkAppArguments("EMR step " + stage, args.subList(cls + 4, args.size()));
      int javaFlags = 0;
      for (int i = 0; i < cls; i++) {
        if (args.get(i).equals("--conf") && args.get(i + 1).contains("extraJavaOptions=")) {
          String options = args.get(i + 1).substring(args.get(i + 1).indexOf('=') + 1);
          assertThat(opensIn(options)).as("EMR step %s: %s", stage, args.get(i + 1)).isEqualTo(opens);
          javaFlags++;
        }
      }
      assertThat(javaFlags).as("EMR step %s: driver and executor Java options", stage).isEqualTo(2);
    }
    assertThat(order).as("EMR steps, one per stage").containsExactlyInAnyOrderElementsOf(stages.keySet());
    // EMR runs steps one after another: each stage's upstream stages must come before it
    stages.forEach((stage, upstream) -> upstream.forEach(up -> assertThat(order.indexOf(up))
        .as("EMR step %s before %s", up, stage).isLessThan(order.indexOf(stage))));
  }

  @Test
  void emrClusterConfigurationHasTheJava17FlagsAndGpuScheduling() throws IOException {
    List<String> opens = pomOpens();
    Map<String, JsonObject> byClass = new LinkedHashMap<>();
    for (JsonElement e : json("deploy/emr/configurations.json").getAsJsonArray()) {
      byClass.put(e.getAsJsonObject().get("Classification").getAsString(), e.getAsJsonObject());
    }
    JsonObject spark = byClass.get("spark-defaults").getAsJsonObject("Properties");
    for (String side : List.of("driver", "executor")) {
      assertThat(opensIn(spark.get("spark." + side + ".extraJavaOptions").getAsString())).as(side).isEqualTo(opens);
    }
    assertThat(spark.get("spark.executor.resource.gpu.discoveryScript").getAsString()).endsWith(".sh");
    assertThat(spark.get("spark.executorEnv.PYTORCH_FLAVOR").getAsString()).isEqualTo("cu128");
    assertThat(byClass.get("yarn-site").getAsJsonObject("Properties").get("yarn.resource-types").getAsString())
        .isEqualTo("yarn.io/gpu");
    assertThat(byClass).containsKeys("container-executor", "capacity-scheduler");
    List<String> types = new ArrayList<>();
    for (JsonElement g : json("deploy/emr/instance-groups.json").getAsJsonArray()) {
      types.add(g.getAsJsonObject().get("InstanceGroupType").getAsString() + " "
          + g.getAsJsonObject().get("InstanceType").getAsString());
    }
    assertThat(types).as("instance groups").anyMatch(t -> t.startsWith("MASTER "))
        .anyMatch(t -> t.matches("(CORE|TASK) [gp]\\d.*")); // an NVIDIA GPU family (g4dn, g5, g6, p3, p4d, p5)
  }

  @Test
  void theDatabricksJobHasATaskPerStageDependingOnItsUpstreamStagesWithGpuNodesForTheModelStages()
      throws IOException {
    Map<String, Set<String>> stages = registry();
    List<String> opens = pomOpens();
    JsonObject job = json("deploy/databricks/cellcircuits-job.json").getAsJsonObject();
    Map<String, JsonObject> clusters = new LinkedHashMap<>();
    for (JsonElement c : job.getAsJsonArray("job_clusters")) {
      JsonObject cluster = c.getAsJsonObject().getAsJsonObject("new_cluster");
      clusters.put(c.getAsJsonObject().get("job_cluster_key").getAsString(), cluster);
      JsonObject conf = cluster.getAsJsonObject("spark_conf");
      for (String side : List.of("driver", "executor")) {
        assertThat(opensIn(conf.get("spark." + side + ".extraJavaOptions").getAsString()))
            .as("cluster %s, %s", c.getAsJsonObject().get("job_cluster_key"), side).isEqualTo(opens);
      }
      assertThat(cluster.getAsJsonObject("spark_env_vars").get("JNAME").getAsString()).contains("17");
    }
    Map<String, Set<String>> found = new LinkedHashMap<>();
    for (JsonElement t : job.getAsJsonArray("tasks")) {
      JsonObject task = t.getAsJsonObject();
      String key = task.get("task_key").getAsString();
      Set<String> deps = new TreeSet<>();
      if (task.has("depends_on")) {
        task.getAsJsonArray("depends_on").forEach(d -> deps.add(d.getAsJsonObject().get("task_key").getAsString()));
      }
      assertThat(found.put(key, deps)).as("task %s appears once", key).isNull();
      JsonObject jar = task.getAsJsonObject("spark_jar_task");
      assertThat(jar.get("main_class_name").getAsString()).isEqualTo(MAIN);
      List<String> params = strings(jar.getAsJsonArray("parameters"));
      assertThat(params.get(0)).as("task %s runs its stage", key).isEqualTo(key);
      checkAppArguments("Databricks task " + key, params.subList(1, params.size()));
      assertThat(task.get("max_retries").getAsInt()).as("task %s retries", key).isPositive();
      if (!key.equals("sentences")) { // every stage after sentences runs the model or the transcoders
        String node = clusters.get(task.get("job_cluster_key").getAsString()).get("node_type_id").getAsString();
        assertThat(node).as("task %s node type", key).matches("[gp]\\d.*");
      }
    }
    assertThat(found).as("Databricks tasks and their dependencies").isEqualTo(stages);
  }

  @Test
  void theAirflowDagHasATaskPerStageWiredByUpstreamWithRetriesAndTheRunRootAsAParameter() throws IOException {
    String dag = Files.readString(Path.of("deploy/airflow/cellcircuits_dag.py"));
    Matcher block = Pattern.compile("(?s)\\nUPSTREAM = \\{(.*?)\\n}").matcher(dag);
    assertThat(block.find()).as("the DAG's UPSTREAM table").isTrue();
    Map<String, Set<String>> found = new LinkedHashMap<>();
    Matcher entry = Pattern.compile("\"(\\w+)\":\\s*\\[([^\\]]*)]").matcher(block.group(1));
    while (entry.find()) {
      Set<String> ups = new TreeSet<>();
      Matcher name = Pattern.compile("\"(\\w+)\"").matcher(entry.group(2));
      while (name.find()) {
        ups.add(name.group(1));
      }
      assertThat(found.put(entry.group(1), ups)).as("stage %s listed once", entry.group(1)).isNull();
    }
    assertThat(found).as("Airflow stages and their upstream stages").isEqualTo(registry());
    // the table drives the tasks and the edges
    assertThat(dag).contains("for stage, upstream in UPSTREAM.items():", "task_id=stage",
        "tasks[up] >> tasks[stage]", "{stage} ");

    Matcher opens = Pattern.compile("(?s)\\nJAVA17_OPENS = \\((.*?)\\n\\)").matcher(dag);
    assertThat(opens.find()).as("the DAG's JAVA17_OPENS").isTrue();
    StringBuilder joined = new StringBuilder();
    Matcher literal = Pattern.compile("\"([^\"]*)\"").matcher(opens.group(1));
    while (literal.find()) {
      joined.append(literal.group(1));
    }
    assertThat(opensIn(joined.toString())).isEqualTo(pomOpens());
    assertThat(dag).contains("extraJavaOptions={JAVA_OPTS}", "JAVA_OPTS = JAVA17_OPENS");

    assertThat(dag).contains("MAIN_CLASS = \"" + MAIN + "\"", "--class {MAIN_CLASS}");
    Matcher retries = Pattern.compile("\"retries\":\\s*(\\d+)").matcher(dag);
    assertThat(retries.find() && Integer.parseInt(retries.group(1)) > 0).as("default_args retries > 0").isTrue();
    assertThat(dag).as("the run root is the DAG's 'root' parameter")
        .contains("\"root\": Param(", "--root '{{{{ params.root }}}}'");
    Matcher set = Pattern.compile("--set (\\S+?)=").matcher(dag);
    while (set.find()) {
      assertThat(REFERENCE.hasPathOrNull("cellcircuits." + set.group(1))).as("--set %s", set.group(1)).isTrue();
    }
  }

  @Test
  void theLaunchScriptTakesItsJava17FlagsFromThePom() throws IOException {
    assertThat(Files.readString(Path.of("jobs/spark-submit.sh")))
        .contains("<spark.java17.opens>", "--class org.cellcircuits.jobs.CellCircuits");
    assertThat(MAIN).isEqualTo("org.cellcircuits.jobs.CellCircuits");
  }

  private static List<String> strings(JsonArray a) {
    List<String> out = new ArrayList<>();
    a.forEach(e -> out.add(e.getAsString()));
    return out;
  }
}
