package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.cellcircuits.io.RunRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * An s3a:// run root whose endpoint refuses connections fails with a message naming the root and the endpoint, under
 * the launcher's S3A retry settings, instead of retrying for minutes (Hadoop 3.3.4's defaults waited over 5 minutes in
 * {@code run --plan}). The timeout is a hang guard, not a speed assertion: with the settings it fails in seconds.
 */
class UnreachableRunRootTest {
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aRefusedEndpointFailsNamingTheRootAndTheEndpoint() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort(); // free now, closed below: connections to it are refused
    }
    String endpoint = "http://127.0.0.1:" + port;
    RunSettings settings = RunSettings.from(ConfigLoader.load(ConfigLoader.reference(), null, List.of(
        "run.root=s3a://bucket/run", "run.spark.conf.\"spark.hadoop.fs.s3a.endpoint\"=\"" + endpoint + "\"",
        "run.spark.conf.\"spark.hadoop.fs.s3a.path.style.access\"=true",
        // a fake key pair for this loopback endpoint only, so the request gets as far as the connection
        "run.spark.conf.\"spark.hadoop.fs.s3a.access.key\"=test",
        "run.spark.conf.\"spark.hadoop.fs.s3a.secret.key\"=test")));
    Configuration hadoop = settings.hadoopConfiguration();
    assertThat(hadoop.get("fs.s3a.attempts.maximum")).isEqualTo("2");
    assertThat(hadoop.get("fs.s3a.retry.limit")).isEqualTo("3");
    assertThat(hadoop.get("fs.s3a.connection.establish.timeout")).isEqualTo("5000");
    // the run's own settings win over the defaults
    Configuration mine = RunSettings.from(ConfigLoader.load(ConfigLoader.reference(), null, List.of(
        "run.spark.conf.\"spark.hadoop.fs.s3a.retry.limit\"=9"))).hadoopConfiguration();
    assertThat(mine.get("fs.s3a.retry.limit")).isEqualTo("9");

    hadoop.setBoolean("fs.s3a.impl.disable.cache", true);
    RunRoot root = RunRoot.of(settings.root(), hadoop);
    assertThatThrownBy(() -> root.committed("sentences")).isInstanceOf(IOException.class)
        .hasMessageStartingWith("cannot reach the run root s3a://bucket/run at endpoint " + endpoint + ": ")
        .hasMessageContaining("Connection refused");
  }
}
