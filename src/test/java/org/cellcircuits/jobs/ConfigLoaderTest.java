package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path tmp;

  @Test
  void defaultsComeFromTheReferenceConfig() {
    RunSettings run = RunSettings.from(ConfigLoader.load(null, List.of()));
    assertThat(run).isEqualTo(new RunSettings("runs/default", false, Duration.ofSeconds(5), Duration.ofMinutes(10),
        "local[*]", "cellcircuits", Map.of()));
  }

  @Test
  void theShippedReferenceIsTheOneInConf() throws Exception {
    Config fromFile = com.typesafe.config.ConfigFactory.parseFile(Paths.get("conf/reference.conf").toFile()).resolve();
    assertThat(ConfigLoader.reference().root().unwrapped()).isEqualTo(fromFile.root().unwrapped());
  }

  @Test
  void everyReferenceKeyIsDocumentedWithItsDefault() {
    List<String> undocumented = new ArrayList<>();
    collectUndocumented(ConfigLoader.reference().root(), "", undocumented);
    assertThat(undocumented).as("keys in conf/reference.conf without a comment naming their default").isEmpty();
  }

  private static void collectUndocumented(ConfigObject object, String prefix, List<String> out) {
    for (Map.Entry<String, ConfigValue> e : object.entrySet()) {
      String key = prefix + e.getKey();
      boolean placeholder = e.getValue() instanceof ConfigObject o && o.isEmpty() && !ConfigLoader.isOpenMap(o);
      boolean leaf = !(e.getValue() instanceof ConfigObject) || ConfigLoader.isOpenMap(e.getValue());
      if (placeholder) {
        continue;  // a stage section its issue has not filled yet
      }
      if (leaf) {
        String comment = String.join(" ", e.getValue().origin().comments()).toLowerCase(java.util.Locale.ROOT);
        if (!comment.contains("default")) {
          out.add(key);
        }
      } else {
        collectUndocumented((ConfigObject) e.getValue(), key + ".", out);
      }
    }
  }

  @Test
  void setOverridesWinOverTheFileWhichWinsOverTheReference() throws Exception {
    Path file = Files.writeString(tmp.resolve("my.conf"),
        "cellcircuits.run { root = \"runs/file\", overwrite = true, spark.app-name = from-file }\n");
    Config config = ConfigLoader.load(file, List.of(
        "run.root=s3a://bucket/runs/heart",          // no leading "cellcircuits.", and "//" is not a comment here
        "cellcircuits.run.progress-interval=250ms",
        "run.spark.conf.\"spark.sql.shuffle.partitions\"=64",
        "run.spark.conf.spark.executor.memory=4g"));  // unquoted: nested objects, read back as one Spark key
    RunSettings run = RunSettings.from(config);
    assertThat(run.root()).isEqualTo("s3a://bucket/runs/heart");
    assertThat(run.overwrite()).isTrue();
    assertThat(run.appName()).isEqualTo("from-file");
    assertThat(run.progressInterval()).isEqualTo(Duration.ofMillis(250));
    assertThat(run.sparkConf()).containsExactly(
        Map.entry("spark.executor.memory", "4g"), Map.entry("spark.sql.shuffle.partitions", "64"));
    assertThat(run.hadoopConfiguration().get("fs.s3a.endpoint")).isNull();
  }

  @Test
  void sparkHadoopSettingsReachTheRunRootsFileSystem() {
    Config config = ConfigLoader.load(null, List.of("run.spark.conf.\"spark.hadoop.fs.s3a.endpoint\"=http://minio:9000"));
    assertThat(RunSettings.from(config).hadoopConfiguration().get("fs.s3a.endpoint")).isEqualTo("http://minio:9000");
  }

  @Test
  void aBareNullOnTheCommandLineIsNullAndAQuotedOneIsTheString() {
    Config c = ConfigLoader.load(null, List.of("sentences.atlas.donor-column=null",
        "sentences.atlas.tissue-column=\"null\""));
    assertThat(c.getIsNull("cellcircuits.sentences.atlas.donor-column")).isTrue();
    assertThat(c.getString("cellcircuits.sentences.atlas.tissue-column")).isEqualTo("null");
  }

  @Test
  void anUnknownKeyInTheFileNamesTheFileLineKeyAndNearestKnownKey() throws Exception {
    Path file = Files.writeString(tmp.resolve("typo.conf"), "cellcircuits {\n  run {\n    rot = runs/x\n  }\n}\n");
    assertThatThrownBy(() -> ConfigLoader.load(file, List.of()))
        .isInstanceOf(BadConfigException.class)
        .hasMessage(file + " line 3: unknown key cellcircuits.run.rot (not in reference.conf); "
            + "did you mean cellcircuits.run.root?");
    Path outside = Files.writeString(tmp.resolve("outside.conf"), "run.root = x\n");
    assertThatThrownBy(() -> ConfigLoader.load(outside, List.of()))
        .hasMessageStartingWith(outside + " line 1: unknown key run (not in reference.conf)");
  }

  @Test
  void anUnknownKeyOrBadValueOnTheCommandLineNamesTheArgument() {
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("run.overwrit=true")))
        .isInstanceOf(BadConfigException.class)
        .hasMessage("--set run.overwrit=true: unknown key cellcircuits.run.overwrit (not in reference.conf); "
            + "did you mean cellcircuits.run.overwrite?");
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("run.root.deeper=1")))
        .hasMessageContaining("unknown key cellcircuits.run.root.deeper");
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("run.overwrite=maybe")))
        .isInstanceOf(BadConfigException.class)
        .hasMessage("--set run.overwrite=maybe: cellcircuits.run.overwrite is a string; expected a boolean like its "
            + "default false");
    assertThat(RunSettings.from(ConfigLoader.load(null, List.of("run.overwrite=yes"))).overwrite()).isTrue();
    assertThatThrownBy(() -> RunSettings.from(ConfigLoader.load(null, List.of("run.progress-interval=soon"))))
        .isInstanceOf(BadConfigException.class)
        .hasMessageContaining("progress-interval");
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("sentences.anything=1")))
        .as("a stage section takes only the keys it declares")
        .hasMessageContaining("unknown key cellcircuits.sentences.anything");
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("run.root"))).hasMessage("--set run.root: expected key=value");
  }

  @Test
  void aFractionForAWholeNumberAndAListForAnOptionalPathAreRefused() throws Exception {
    // before: top-k=64.7 was read as 64 and model.path=[1,2] passed the loader (a null default took anything)
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("sentences.top-k=64.7")))
        .isInstanceOf(BadConfigException.class)
        .hasMessage("--set sentences.top-k=64.7: cellcircuits.sentences.top-k is 64.7; expected a whole number like "
            + "its default 200");
    assertThatThrownBy(() -> ConfigLoader.load(null, List.of("model.path=[1,2]")))
        .isInstanceOf(BadConfigException.class)
        .hasMessage("--set model.path=[1,2]: cellcircuits.model.path is a list; expected a single value (a string or a "
            + "number) or null, its default");
    Path file = Files.writeString(tmp.resolve("whole.conf"), "cellcircuits.train.k = 4.5\n");
    assertThatThrownBy(() -> ConfigLoader.load(file, List.of()))
        .hasMessage(file + " line 1: cellcircuits.train.k is 4.5; expected a whole number like its default 32");
    // still accepted: a whole number written as one for a whole key, a whole number for a fractional key, a string or
    // a number for an optional key
    Config ok = ConfigLoader.load(null, List.of("sentences.top-k=64.0", "train.lr-end=0", "train.l0-coefficient=2",
        "model.path=demo/model", "train.input-scale=2.5"));
    assertThat(ok.getInt("cellcircuits.sentences.top-k")).isEqualTo(64);
    assertThat(ok.getDouble("cellcircuits.train.l0-coefficient")).isEqualTo(2.0);
    assertThat(ok.getDouble("cellcircuits.train.input-scale")).isEqualTo(2.5);
  }

  @Test
  void aWrongTypeInTheFileIsNamed() throws Exception {
    Path file = Files.writeString(tmp.resolve("types.conf"), "cellcircuits.run.progress-interval = [1, 2]\n");
    assertThatThrownBy(() -> ConfigLoader.load(file, List.of()))
        .isInstanceOf(BadConfigException.class)
        .hasMessage(file + " line 1: cellcircuits.run.progress-interval is a list; expected a string like its "
            + "default \"5s\"");
  }

  @Test
  void aMissingFileAndANonSparkPassThroughKeyAreErrors() {
    assertThatThrownBy(() -> ConfigLoader.load(tmp.resolve("none.conf"), List.of()))
        .isInstanceOf(BadConfigException.class)
        .hasMessage("config file " + tmp.resolve("none.conf") + " does not exist or is not a file");
    Config config = ConfigLoader.load(null, List.of("run.spark.conf.\"executor.memory\"=4g"));
    assertThatThrownBy(() -> RunSettings.from(config))
        .isInstanceOf(BadConfigException.class)
        .hasMessageContaining("cellcircuits.run.spark.conf key 'executor.memory' is not a Spark setting");
  }

  @Test
  void theDemoConfigLoads() {
    RunSettings run = RunSettings.from(ConfigLoader.load(Paths.get("conf/demo.conf"), List.of()));
    assertThat(run.root()).isEqualTo("runs/demo");
    assertThat(run.sparkConf()).containsEntry("spark.sql.shuffle.partitions", "8");
  }

  @Test
  void launcherSettingsWinOverTheConfig() {
    RunSettings run = RunSettings.from(ConfigLoader.load(null, List.of("run.spark.master=local[3]")));
    String old = System.getProperty("spark.master");
    System.setProperty("spark.master", "yarn");
    try {
      assertThat(run.toSparkConf().get("spark.master")).isEqualTo("yarn");
    } finally {
      if (old == null) {
        System.clearProperty("spark.master");
      } else {
        System.setProperty("spark.master", old);
      }
    }
    assertThat(run.toSparkConf().get("spark.master")).isEqualTo("local[3]");
  }
}
