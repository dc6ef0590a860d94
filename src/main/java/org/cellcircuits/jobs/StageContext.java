package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.cellcircuits.io.RunRoot;

/**
 * What a stage gets to do its work.
 *
 * @param spark the session, started the first time a stage actually has to write
 * @param config the full resolved config (all sections)
 * @param root the run root; read upstream data with {@code root.committedPath(stage, table)}
 * @param settings the run section, parsed
 */
public record StageContext(SparkSession spark, Config config, RunRoot root, RunSettings settings) {
  public StageContext {
    Objects.requireNonNull(spark, "spark");
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(root, "root");
    Objects.requireNonNull(settings, "settings");
  }

  /** The Hadoop configuration of the running Spark session (for executors: broadcast it). */
  public Configuration hadoop() {
    return spark.sparkContext().hadoopConfiguration();
  }

  /**
   * A progress reporter for long work, e.g. {@code try (Progress p = ctx.progress("sentences", "cells", n)) {...}};
   * executors add to {@code p.counter()}.
   */
  public Progress progress(String what, String unit, long total) {
    return Progress.start(spark, what, unit, total, settings.progressInterval());
  }
}
