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
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.resource.ResourceRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scheduler definitions in {@code deploy/} (EMR steps and cluster configuration, the Databricks job, the Airflow
 * DAG) and {@code jobs/spark-submit.sh}, checked without those services: the JSON parses; every stage of
 * {@link StageRegistry#defaults()} appears exactly once in each, after or depending on exactly its
 * {@link Stage#upstream()} stages; and every spark-submit line is read by Spark's own parser
 * ({@link SparkSubmitLines}), which must accept it and find the real main class, the shaded jar, the stage as the
 * first application argument, config keys that exist, the pom's Java 17 flags on driver and executors, and a GPU per
 * executor for the model stages. The Airflow DAG is Python and no Airflow is installed here: it is read with
 * Python's {@code ast} module ({@code src/test/python/airflow_dag_tasks.py}) and its commands compared with what
 * {@code jobs/spark-submit.sh} builds.
 */
class DeployDefinitionsTest {
  private static final String MAIN = CellCircuits.class.getName();
  private static final Config REFERENCE = ConfigLoader.reference();

  @TempDir Path tmp;

  /** The registry's stages and what each reads, in pipeline order. */
  private static Map<String, Set<String>> registry() {
    Map<String, Set<String>> out = new LinkedHashMap<>();
    for (Stage s : StageRegistry.defaults().inOrder()) {
      out.put(s.name(), new TreeSet<>(s.upstream()));
    }
    return out;
  }

  /**
   * The JVM flags jobs/spark-submit.sh gives driver and executors, one per element: the pom's
   * {@code spark.java17.opens}, then the launcher's own ({@code java_opts="$opens ..."}: MetaspaceSize, DJL offline).
   */
  private static List<String> pomOpens() throws IOException {
    Matcher m = Pattern.compile("<spark\\.java17\\.opens>(.*?)</spark\\.java17\\.opens>")
        .matcher(Files.readString(Path.of("pom.xml")));
    assertThat(m.find()).as("pom.xml has the spark.java17.opens property").isTrue();
    Matcher launcher = Pattern.compile("(?m)^java_opts=\"\\$opens ([^$\"]*)")
        .matcher(Files.readString(Path.of("jobs/spark-submit.sh")));
    assertThat(launcher.find()).as("jobs/spark-submit.sh sets java_opts=\"$opens ...\"").isTrue();
    List<String> flags = new ArrayList<>(List.of(m.group(1).trim().split("\\s+")));
    flags.addAll(List.of(launcher.group(1).trim().split("\\s+")));
    assertThat(flags).as("the launcher's flags").contains("-XX:MetaspaceSize=256m", "-Dai.djl.offline=true");
    return flags;
  }

  /**
   * The launcher's flags inside a JVM options string, in order: --add-opens, the reflection switch, MetaspaceSize and
   * DJL's offline mode (anything else a definition adds is its own business).
   */
  private static List<String> opensIn(String javaOptions) {
    return Stream.of(javaOptions.trim().split("\\s+"))
        .filter(t -> t.startsWith("--add-opens") || t.startsWith("-Djdk.reflect") || t.startsWith("-XX:MetaspaceSize")
            || t.startsWith("-Dai.djl.offline")).toList();
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

  /** Stages that run the model or the transcoders, one GPU per executor (deploy/GPU.md): every stage but sentences. */
  private static boolean gpu(String stage) {
    return !stage.equals("sentences");
  }

  /**
   * Parses one spark-submit line (without the {@code spark-submit} word) with Spark's parser and checks that it is a
   * cellcircuits stage as we mean it: the line is accepted; every {@code --conf} on it reaches Spark's properties
   * unchanged (Spark drops a key not starting with {@code spark.} with only a warning); the main class; the shaded
   * jar; {@code stage} first among the application arguments, followed by its config and run root; the pom's Java 17
   * flags in both extraJavaOptions; executor resources a SparkContext accepts, a GPU per executor and task exactly
   * for the model stages.
   */
  private static SparkSubmitLines.Parsed checkSubmission(String where, String stage, List<String> line,
      Map<String, String> env) throws IOException {
    SparkSubmitLines.Parsed p = SparkSubmitLines.parse(where, line, env);
    for (String conf : SparkSubmitLines.confs(line, p.appArgs().size())) {
      int eq = conf.indexOf('=');
      assertThat(p.properties()).as("%s: --conf %s reaches Spark", where, conf)
          .containsEntry(conf.substring(0, eq), conf.substring(eq + 1));
    }
    assertThat(p.mainClass()).as("%s: main class", where).isEqualTo(MAIN);
    String jar = p.primaryResource().substring(p.primaryResource().lastIndexOf('/') + 1);
    assertThat(jar).as("%s: the application jar", where).matches("cellcircuits-.+-spark\\.jar");
    List<String> app = p.appArgs();
    assertThat(app).as("%s: application arguments", where).isNotEmpty();
    assertThat(app.get(0)).as("%s: the stage is the first application argument", where).isEqualTo(stage);
    checkAppArguments(where, app.subList(1, app.size()));
    for (String side : List.of("driver", "executor")) {
      String key = "spark." + side + ".extraJavaOptions";
      assertThat(p.properties()).as("%s: %s", where, key).containsKey(key);
      assertThat(opensIn(p.properties().get(key))).as("%s: Java 17 flags in %s", where, key).isEqualTo(pomOpens());
    }
    Map<String, ResourceRequest> executor = p.executorResources();
    if (gpu(stage)) {
      assertThat(executor).as("%s: executor resources of a model stage", where).containsKey("gpu");
      assertThat(executor.get("gpu").amount()).as("%s: GPUs per executor", where).isEqualTo(1L);
      assertThat(p.taskResources()).as("%s: GPUs per task", where).containsEntry("gpu", 1);
    } else {
      assertThat(executor).as("%s: executor resources of a CPU stage", where).doesNotContainKey("gpu");
    }
    return p;
  }

  /**
   * What {@code aws emr add-steps} runs: command-runner's spark-submit reads /etc/spark/conf/spark-defaults.conf,
   * which EMR writes from the {@code spark-defaults} classification of configurations.json on top of its own
   * {@code spark.master yarn}; HADOOP_CONF_DIR is set on every EMR node.
   */
  private Map<String, String> emrEnvironment() throws IOException {
    Properties defaults = new Properties();
    defaults.setProperty("spark.master", "yarn");
    for (JsonElement e : json("deploy/emr/configurations.json").getAsJsonArray()) {
      if (e.getAsJsonObject().get("Classification").getAsString().equals("spark-defaults")) {
        e.getAsJsonObject().getAsJsonObject("Properties").entrySet()
            .forEach(p -> defaults.setProperty(p.getKey(), p.getValue().getAsString()));
      }
    }
    Path conf = Files.createDirectories(tmp.resolve("emr-spark-conf"));
    try (var out = Files.newBufferedWriter(conf.resolve("spark-defaults.conf"))) {
      defaults.store(out, "EMR spark-defaults");
    }
    return Map.of("SPARK_CONF_DIR", conf.toString(), "HADOOP_CONF_DIR", "/etc/hadoop/conf");
  }

  @Test
  void emrStepsRunEveryStageOnceInPipelineOrderAsSparkSubmitReadsThem() throws IOException {
    Map<String, Set<String>> stages = registry();
    Map<String, String> env = emrEnvironment();
    List<String> order = new ArrayList<>();
    for (JsonElement e : json("deploy/emr/steps.json").getAsJsonArray()) {
      JsonObject step = e.getAsJsonObject();
      for (String field : List.of("Name", "ActionOnFailure", "Type", "Jar", "Args")) {
        assertThat(step.has(field)).as("EMR step %s has %s", step.get("Name"), field).isTrue();
      }
      assertThat(step.get("Type").getAsString()).isEqualTo("CUSTOM_JAR");
      assertThat(step.get("Jar").getAsString()).isEqualTo("command-runner.jar");
      assertThat(step.get("ActionOnFailure").getAsString())
          .isIn("TERMINATE_CLUSTER", "CANCEL_AND_WAIT", "CONTINUE", "TERMINATE_JOB_FLOW");
      List<String> args = strings(step.getAsJsonArray("Args"));
      assertThat(args.get(0)).isEqualTo("spark-submit");
      String name = step.get("Name").getAsString();
      String stage = name.substring(name.lastIndexOf(' ') + 1);
      assertThat(name).isEqualTo("cellcircuits " + stage);
      SparkSubmitLines.Parsed p = checkSubmission("EMR step " + stage, stage, args.subList(1, args.size()), env);
      assertThat(p.args().master()).as("EMR step %s: master", stage).isEqualTo("yarn");
      assertThat(p.args().deployMode()).as("EMR step %s: deploy mode", stage).isEqualTo("cluster");
      if (gpu(stage)) {
        assertThat(p.executorResources().get("gpu").discoveryScript())
            .as("EMR step %s: YARN executors find their GPU with a discovery script", stage).isPresent();
      }
      order.add(stage);
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

  /**
   * The spark-submit equivalent of a Databricks spark_jar_task: Databricks starts the driver with the cluster's
   * spark_conf, the task's jar library and {@code main_class_name} with {@code parameters}. The master and deploy
   * mode are Databricks' own, so the parser is asked only about the rest.
   */
  private static List<String> databricksLine(JsonObject task, JsonObject cluster) {
    List<String> line = new ArrayList<>();
    cluster.getAsJsonObject("spark_conf").entrySet()
        .forEach(c -> line.addAll(List.of("--conf", c.getKey() + "=" + c.getValue().getAsString())));
    JsonObject jarTask = task.getAsJsonObject("spark_jar_task");
    line.addAll(List.of("--class", jarTask.get("main_class_name").getAsString()));
    List<String> jars = new ArrayList<>();
    task.getAsJsonArray("libraries").forEach(l -> jars.add(l.getAsJsonObject().get("jar").getAsString()));
    assertThat(jars).as("task %s: one jar library", task.get("task_key")).hasSize(1);
    line.add(jars.get(0));
    line.addAll(strings(jarTask.getAsJsonArray("parameters")));
    return line;
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
      for (String field : List.of("spark_version", "node_type_id", "num_workers")) {
        assertThat(cluster.has(field)).as("job cluster %s has %s", c.getAsJsonObject().get("job_cluster_key"), field)
            .isTrue();
      }
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
      JsonObject cluster = clusters.get(task.get("job_cluster_key").getAsString());
      assertThat(cluster).as("task %s: job_cluster_key names a job cluster", key).isNotNull();
      checkSubmission("Databricks task " + key, key, databricksLine(task, cluster), Map.of());
      if (!key.equals("sentences")) { // every stage after sentences runs the model or the transcoders
        String node = cluster.get("node_type_id").getAsString();
        assertThat(node).as("task %s node type", key).matches("[gp]\\d.*");
      }
    }
    assertThat(found).as("Databricks tasks and their dependencies").isEqualTo(stages);
  }

  /** A run root standing in for the DAG's templated {@code {{ params.root }}}, as Airflow renders it. */
  private static final String SAMPLE_ROOT = "s3a://sample-bucket/runs/heart";

  /** The DAG as src/test/python/airflow_dag_tasks.py reads it with Python's ast module. */
  private static JsonObject airflowDag() throws IOException, InterruptedException {
    String python = SparkSubmitLines.python3();
    return JsonParser.parseString(SparkSubmitLines.run(List.of(python, "src/test/python/airflow_dag_tasks.py",
        "deploy/airflow/cellcircuits_dag.py"), Map.of(), null)).getAsJsonObject();
  }

  /**
   * What jobs/spark-submit.sh builds for {@code stage} in dry-run mode, with the spark-submit command, jar, submit
   * options and application arguments given, as the words bash makes of the line it prints.
   */
  private static List<String> launchScriptLine(String sparkSubmit, String jar, List<String> submitOptions,
      List<String> appArgs, Path project) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("bash", project.resolve("jobs/spark-submit.sh").toString()));
    command.addAll(submitOptions);
    command.add("--");
    command.addAll(appArgs);
    Map<String, String> env = new LinkedHashMap<>(Map.of("DRY_RUN", "1", "SPARK_SUBMIT", sparkSubmit,
        "CELLCIRCUITS_JAVA_OPTS", "", "MVN", "false"));
    if (jar != null) {
      env.put("CELLCIRCUITS_JAR", jar);
    }
    String out = SparkSubmitLines.run(command, env, project).trim();
    assertThat(out).as("jobs/spark-submit.sh prints one line").doesNotContain("\n");
    return SparkSubmitLines.shellWords(out);
  }

  @Test
  void theAirflowDagReadWithPythonsAstHasATaskPerStageWiredByUpstreamRunningWhatTheLaunchScriptBuilds()
      throws Exception {
    JsonObject dag = airflowDag();
    JsonObject settings = dag.getAsJsonObject("dag");
    assertThat(settings.get("retries").getAsInt()).as("default_args retries").isPositive();
    assertThat(settings.get("max_active_runs").getAsInt()).as("max_active_runs: two runs on one root refuse")
        .isEqualTo(1);
    assertThat(settings.getAsJsonObject("params").has("root")).as("the run root is the DAG parameter 'root'").isTrue();

    Map<String, Set<String>> edges = new LinkedHashMap<>();
    dag.getAsJsonObject("tasks").keySet().forEach(t -> edges.put(t, new TreeSet<>()));
    for (JsonElement e : dag.getAsJsonArray("edges")) {
      edges.get(e.getAsJsonArray().get(1).getAsString()).add(e.getAsJsonArray().get(0).getAsString());
    }
    assertThat(edges).as("Airflow tasks and their upstream tasks").isEqualTo(registry());

    Map<String, String> env = Map.of("HADOOP_CONF_DIR", "/etc/hadoop/conf");
    for (Map.Entry<String, JsonElement> task : dag.getAsJsonObject("tasks").entrySet()) {
      String stage = task.getKey();
      String template = task.getValue().getAsString();
      assertThat(template).as("task %s: the run root is the template of the 'root' parameter", stage)
          .containsOnlyOnce("{{ params.root }}");
      List<String> words = SparkSubmitLines.shellWords(template.replace("{{ params.root }}", SAMPLE_ROOT));
      assertThat(words.get(0)).as("task %s runs spark-submit", stage).isEqualTo("spark-submit");
      List<String> line = words.subList(1, words.size());
      SparkSubmitLines.Parsed dagLine = checkSubmission("Airflow task " + stage, stage, line, env);
      assertThat(dagLine.appArgs()).as("task %s: --root", stage).containsSequence("--root", SAMPLE_ROOT);

      // The same submission through the launch script: the DAG's own choices (master and deploy mode, files, GPU
      // requests, jar, application arguments) given to it, so what differs is what the script adds.
      List<String> submitCommand = new ArrayList<>(List.of("spark-submit"));
      List<String> options = new ArrayList<>();
      for (int i = 0; i < line.size() - dagLine.appArgs().size() - 1; i += 2) {
        List<String> option = line.subList(i, i + 2);
        if (List.of("--master", "--deploy-mode").contains(option.get(0))) {
          submitCommand.addAll(option); // the DAG's SPARK_SUBMIT Variable
        } else if (!option.get(1).contains("extraJavaOptions=")) { // the script adds these itself
          options.addAll(option);
        }
      }
      List<String> script = launchScriptLine(String.join(" ", submitCommand), dagLine.primaryResource(),
          options, dagLine.appArgs(), Path.of("").toAbsolutePath());
      assertThat(script.get(0)).isEqualTo("spark-submit");
      SparkSubmitLines.Parsed scriptLine = checkSubmission("jobs/spark-submit.sh for " + stage, stage,
          script.subList(1, script.size()), env);
      assertThat(dagLine.properties()).as("task %s: Spark properties, DAG vs jobs/spark-submit.sh", stage)
          .isEqualTo(scriptLine.properties());
      assertThat(List.of(dagLine.args().master(), dagLine.args().deployMode(), dagLine.mainClass(),
          String.valueOf(dagLine.args().files()), dagLine.primaryResource(), dagLine.appArgs()))
          .as("task %s: master, deploy mode, main class, files, jar, arguments; DAG vs jobs/spark-submit.sh", stage)
          .isEqualTo(List.of(scriptLine.args().master(), scriptLine.args().deployMode(), scriptLine.mainClass(),
              String.valueOf(scriptLine.args().files()), scriptLine.primaryResource(), scriptLine.appArgs()));
    }
  }

  @Test
  void theLaunchScriptSubmitsTheShadedJarFromTargetWithTheMainClassAndThePomsJava17Flags() throws Exception {
    // A copy of the project with a stand-in jar: the parser does not open the jar when --class is given, and the
    // real target/ may hold no jar (then the script would build one).
    Path project = tmp.resolve("project");
    Files.createDirectories(project.resolve("jobs"));
    Files.createDirectories(project.resolve("target"));
    Files.copy(Path.of("jobs/spark-submit.sh"), project.resolve("jobs/spark-submit.sh"));
    Files.copy(Path.of("pom.xml"), project.resolve("pom.xml"));
    Path jar = Files.createFile(project.resolve("target/cellcircuits-0.1.0-SNAPSHOT-spark.jar"));
    for (String stage : registry().keySet()) {
      List<String> options = new ArrayList<>(List.of("--master", "local[2]"));
      List<String> app = new ArrayList<>(List.of(stage, "--config", "conf/demo.conf", "--root", "/tmp/run"));
      if (gpu(stage)) {
        options.addAll(List.of("--conf", "spark.executor.resource.gpu.amount=1",
            "--conf", "spark.task.resource.gpu.amount=1"));
        app.addAll(List.of("--set", "model.device=auto"));
      }
      List<String> words = launchScriptLine("spark-submit", null, options, app, project);
      SparkSubmitLines.Parsed p = checkSubmission("jobs/spark-submit.sh " + stage, stage,
          words.subList(1, words.size()), Map.of());
      assertThat(p.primaryResource()).as("the jar in target/").startsWith("file:").endsWith(jar.toString());
      assertThat(p.args().master()).as("spark-submit's --master is passed through").isEqualTo("local[2]");
      assertThat(p.appArgs()).as("cellcircuits arguments, unchanged").isEqualTo(app);
    }
  }

  private static List<String> strings(JsonArray a) {
    List<String> out = new ArrayList<>();
    a.forEach(e -> out.add(e.getAsString()));
    return out;
  }
}
