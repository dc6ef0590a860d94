package org.cellcircuits.jobs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real S3-compatible server on loopback for tests and benchmarks: S3Proxy 2.6.0 over a transient (in-memory) jclouds
 * blob store, speaking the S3 REST protocol with AWS v2/v4 signatures on {@code http://127.0.0.1:<port>}.
 *
 * <p>It runs in a child JVM with its own classpath, not in the test JVM: S3Proxy brings Guava 33, Jackson 2.17/2.18,
 * logback and AWS SDK 1.12.780, which on the project's classpath replace Spark's Guava 16 (Maven mediation changed the
 * {@code provided} scope too) and duplicate hadoop-aws's SDK bundle classes. The classpath is
 * {@code src/test/s3proxy/pom.xml}'s, from {@code mvn dependency:build-classpath} (offline first; the first run on a
 * cold Maven cache downloads S3Proxy), kept in {@code target/s3proxy/classpath.txt}. Set {@code MVN} to choose the
 * Maven command.
 *
 * <p>The server's credential is written only to its own properties file in {@code work}; the S3A client gets it from
 * Java system properties ({@link #s3aSettings()} names the provider), never from a config.
 */
final class LoopbackS3 implements AutoCloseable {
  /**
   * What a run needs in {@code cellcircuits.run.spark.conf} to reach this server: endpoint, path-style, no TLS, and
   * the AWS SDK's system-property credential provider. hadoop-aws 3.3.4's default chain
   * ({@code fs.s3a.aws.credentials.provider}: TemporaryAWSCredentialsProvider, SimpleAWSCredentialsProvider,
   * EnvironmentVariableCredentialsProvider, IAMInstanceCredentialsProvider) has no system-property provider, and a
   * JVM cannot set its own environment; a provider's class name is not a secret.
   */
  Map<String, String> s3aSettings() {
    return Map.of(
        "spark.hadoop.fs.s3a.endpoint", endpoint(),
        "spark.hadoop.fs.s3a.path.style.access", "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled", "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider", "com.amazonaws.auth.SystemPropertiesCredentialsProvider",
        // the transient store has no notion of a region; S3A 3.3.4 asks for one only to sign
        "spark.hadoop.fs.s3a.endpoint.region", "us-east-1");
  }

  private final Process process;
  private final int port;
  private final String accessKey;
  private final String secretKey;
  private final Path log;

  private LoopbackS3(Process process, int port, String accessKey, String secretKey, Path log) {
    this.process = process;
    this.port = port;
    this.accessKey = accessKey;
    this.secretKey = secretKey;
    this.log = log;
  }

  /** Starts the server (a few seconds) with a fresh random key pair; {@code work} holds its properties and log. */
  static LoopbackS3 start(Path work) throws IOException, InterruptedException {
    Files.createDirectories(work);
    String classpath = classpath();
    String access = "loopback-" + Long.toHexString(System.nanoTime());
    String secret = "secret-" + java.util.UUID.randomUUID().toString().replace("-", "");
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path props = work.resolve("s3proxy.properties");
    Files.writeString(props, String.join("\n",
        "s3proxy.endpoint=http://127.0.0.1:" + port,
        "s3proxy.authorization=aws-v2-or-v4",
        "s3proxy.identity=" + access,
        "s3proxy.credential=" + secret,
        "jclouds.provider=transient",
        "jclouds.identity=" + access,
        "jclouds.credential=" + secret,
        ""), StandardCharsets.UTF_8);
    Path log = work.resolve("s3proxy.log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Xmx1536m", "-XX:+UseSerialGC", "-DLOG_LEVEL=warn", "-cp", classpath,
        "org.gaul.s3proxy.Main", "--properties", props.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    LoopbackS3 server = new LoopbackS3(p, port, access, secret, log);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      if (!p.isAlive()) {
        throw new IOException("S3Proxy exited with " + p.exitValue() + " before listening; its log: " + log);
      }
      try (Socket probe = new Socket()) {
        probe.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return server;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          server.close();
          throw new IOException("S3Proxy did not listen on port " + port + " within 60 s; its log: " + log);
        }
        Thread.sleep(100);
      }
    }
  }

  /** S3Proxy's classpath, resolved once per build folder. */
  private static synchronized String classpath() throws IOException, InterruptedException {
    Path out = Path.of("target", "s3proxy", "classpath.txt").toAbsolutePath();
    if (Files.isRegularFile(out) && Files.size(out) > 0) {
      return Files.readString(out).trim();
    }
    Files.createDirectories(out.getParent());
    Path pom = Path.of("src", "test", "s3proxy", "pom.xml").toAbsolutePath();
    String mvn = System.getenv().getOrDefault("MVN", "mvn");
    IOException last = null;
    for (boolean offline : new boolean[] {true, false}) {
      List<String> cmd = new ArrayList<>(List.of(mvn, "-B", "-q", "-f", pom.toString()));
      if (offline) {
        cmd.add("-o");
      }
      cmd.addAll(List.of("dependency:build-classpath", "-Dmdep.outputFile=" + out));
      Path mvnLog = out.resolveSibling("mvn.log");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(mvnLog.toFile()).start();
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly();
      }
      if (p.exitValue() == 0 && Files.isRegularFile(out) && Files.size(out) > 0) {
        return Files.readString(out).trim();
      }
      last = new IOException(String.format("%s failed (exit %d); see %s", String.join(" ", cmd), p.exitValue(),
          mvnLog));
    }
    throw last;
  }

  String endpoint() {
    return "http://127.0.0.1:" + port;
  }

  String accessKey() {
    return accessKey;
  }

  /** The secret key: for {@code aws.secretKey} and for checking that it appears nowhere else. */
  String secretKey() {
    return secretKey;
  }

  Path log() {
    return log;
  }

  /** Creates a bucket (S3A never does) with the AWS SDK v1 that hadoop-aws 3.3.4 brings. */
  void createBucket(String bucket) {
    com.amazonaws.services.s3.AmazonS3 s3 = com.amazonaws.services.s3.AmazonS3ClientBuilder.standard()
        .withEndpointConfiguration(new com.amazonaws.client.builder.AwsClientBuilder.EndpointConfiguration(
            endpoint(), "us-east-1"))
        .withPathStyleAccessEnabled(true)
        .withCredentials(new com.amazonaws.auth.AWSStaticCredentialsProvider(
            new com.amazonaws.auth.BasicAWSCredentials(accessKey, secretKey)))
        .build();
    try {
      s3.createBucket(bucket);
    } finally {
      s3.shutdown();
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
