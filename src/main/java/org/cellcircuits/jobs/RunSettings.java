package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import scala.Tuple2;

/**
 * The {@code cellcircuits.run} section: where a run writes and how Spark is started.
 *
 * @param root run root, local path or object-store URI
 * @param overwrite replace committed stage outputs whose config or inputs differ
 * @param progressInterval how often progress is logged
 * @param leaseTimeout a stage lease whose holder has not written a heartbeat for this long is taken over
 * @param sparkMaster master used when the launcher set none
 * @param appName application name used when the launcher set none
 * @param sparkConf extra {@code spark.*} settings; launcher settings ({@code spark-submit --conf}) win
 */
public record RunSettings(
    String root,
    boolean overwrite,
    Duration progressInterval,
    Duration leaseTimeout,
    String sparkMaster,
    String appName,
    Map<String, String> sparkConf) {

  public RunSettings {
    if (root == null || root.isBlank()) {
      throw new BadConfigException("cellcircuits.run.root is empty; expected a local path or s3a://bucket/prefix");
    }
    Objects.requireNonNull(progressInterval, "progressInterval");
    if (progressInterval.isNegative() || progressInterval.isZero()) {
      throw new BadConfigException(String.format(
          "cellcircuits.run.progress-interval is %s; expected a positive duration such as 5s", progressInterval));
    }
    Objects.requireNonNull(leaseTimeout, "leaseTimeout");
    if (leaseTimeout.toMillis() < 100) {
      throw new BadConfigException(String.format(
          "cellcircuits.run.lease-timeout is %s; expected at least 100ms, e.g. 10m", leaseTimeout));
    }
    if (sparkMaster == null || sparkMaster.isBlank()) {
      throw new BadConfigException("cellcircuits.run.spark.master is empty; expected e.g. local[*] or yarn");
    }
    Objects.requireNonNull(appName, "appName");
    Map<String, String> copy = new TreeMap<>();
    sparkConf.forEach((k, v) -> {
      if (!k.startsWith("spark.")) {
        throw new BadConfigException(String.format(
            "cellcircuits.run.spark.conf key '%s' is not a Spark setting; expected a key starting with spark.", k));
      }
      copy.put(k, Objects.requireNonNull(v, k));
    });
    sparkConf = Collections.unmodifiableMap(copy);
  }

  /** Reads the run section of a loaded config. */
  public static RunSettings from(Config config) {
    try {
      return read(config.getConfig(ConfigLoader.ROOT + ".run"));
    } catch (ConfigException e) {
      throw new BadConfigException("bad value in cellcircuits.run: " + e.getMessage(), e);
    }
  }

  private static RunSettings read(Config run) {
    Map<String, String> conf = new TreeMap<>();
    // Keys may be written quoted ("spark.sql.shuffle.partitions" = 8) or as nested objects (spark.sql... = 8);
    // joining the path elements with dots gives the Spark key either way.
    for (Map.Entry<String, ConfigValue> e : run.getConfig("spark.conf").entrySet()) {
      conf.put(String.join(".", ConfigUtil.splitPath(e.getKey())), String.valueOf(e.getValue().unwrapped()));
    }
    return new RunSettings(
        run.getString("root"),
        run.getBoolean("overwrite"),
        run.getDuration("progress-interval"),
        run.getDuration("lease-timeout"),
        run.getString("spark.master"),
        run.getString("spark.app-name"),
        conf);
  }

  /**
   * The Spark configuration for this run: what the launcher set (spark-submit passes its settings as {@code spark.*}
   * system properties), completed by this config where the launcher was silent.
   */
  /**
   * S3A settings unless the launcher or {@code run.spark.conf} sets them: an unreachable endpoint fails in seconds
   * (Hadoop 3.3.4's 20 SDK attempts and 7 S3A retries with backoff kept {@code run --plan} waiting over 5 minutes on
   * a refused endpoint); throttling keeps its own retries ({@code fs.s3a.retry.throttle.limit}).
   */
  static final java.util.Map<String, String> S3A_DEFAULTS = java.util.Map.of(
      "spark.hadoop.fs.s3a.attempts.maximum", "2",
      "spark.hadoop.fs.s3a.retry.limit", "3",
      "spark.hadoop.fs.s3a.connection.establish.timeout", "5000");

  public SparkConf toSparkConf() {
    SparkConf conf = new SparkConf(true);
    sparkConf.forEach(conf::setIfMissing);
    S3A_DEFAULTS.forEach(conf::setIfMissing);
    conf.setIfMissing("spark.master", sparkMaster);
    conf.setIfMissing("spark.app.name", appName);
    return conf;
  }

  /**
   * The Hadoop configuration for the run root before Spark starts, built the way Spark builds its own: defaults from
   * the classpath (core-site.xml) plus every {@code spark.hadoop.*} setting. Deciding to skip a stage then needs no
   * Spark session.
   */
  public Configuration hadoopConfiguration() {
    Configuration hadoop = new Configuration();
    for (Tuple2<String, String> kv : toSparkConf().getAll()) {
      if (kv._1().startsWith("spark.hadoop.")) {
        hadoop.set(kv._1().substring("spark.hadoop.".length()), kv._2());
      }
    }
    return hadoop;
  }
}
