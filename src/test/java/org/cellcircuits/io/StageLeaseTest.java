package org.cellcircuits.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-stage lease: one writer per stage per run root, across JVMs. */
class StageLeaseTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(3);

  @TempDir Path tmp;

  private RunRoot root() throws Exception {
    return RunRoot.of(tmp.resolve("run").toString(), new Configuration());
  }

  private static StageSpec spec() {
    return new StageSpec("ids", ConfigFactory.parseString("ids.n = 1"), Map.of());
  }

  /** Writes one small file as table "t", counting calls. */
  private static StageBody tiny(AtomicInteger calls) {
    return attemptDir -> {
      calls.incrementAndGet();
      org.apache.hadoop.fs.Path table = new org.apache.hadoop.fs.Path(attemptDir, "t");
      FileSystem fs = table.getFileSystem(new Configuration());
      try (OutputStream out = fs.create(new org.apache.hadoop.fs.Path(table, "part-0"))) {
        out.write(1);
      }
      return StageResult.of(Map.of("t", 1L));
    };
  }

  /** The other writer: takes the lease of a stage, prints "HELD", and holds it (heartbeating) until killed. */
  public static final class HoldLease {
    public static void main(String[] args) throws Exception {
      RunRoot root = RunRoot.of(args[0], new Configuration());
      StageLease lease = StageLease.acquire(root, args[1], Duration.ofMillis(Long.parseLong(args[2])));
      // the attempt it is writing: a second writer must leave it alone
      Files.createDirectories(Path.of(args[3]));
      System.out.println("HELD " + lease.holder().token());
      System.out.flush();
      Thread.sleep(Long.MAX_VALUE);
    }
  }

  @Test
  void aSecondJvmRefusesNamingTheHolderAndTakesOverOnceTheHolderIsKilledAndItsLeaseTimesOut() throws Exception {
    RunRoot root = root();
    Path childAttempt = tmp.resolve("run/ids/attempt-20260101-000000-child");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        HoldLease.class.getName(), root.uri(), "ids", Long.toString(TIMEOUT.toMillis()), childAttempt.toString())
        .redirectErrorStream(true).start();
    try {
      BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String held = CompletableFuture.supplyAsync(() -> {
        try {
          for (String line; (line = lines.readLine()) != null; ) {
            if (line.startsWith("HELD ")) {
              return line;
            }
          }
          return "child ended without taking the lease";
        } catch (java.io.IOException e) {
          return e.toString();
        }
      }).get(120, TimeUnit.SECONDS);
      assertThat(held).startsWith("HELD ");

      AtomicInteger calls = new AtomicInteger();
      String holder = "(pid " + child.pid() + ")";
      assertThatThrownBy(() -> StageCommitter.run(root, spec(), false, TIMEOUT, tiny(calls)))
          .isInstanceOf(StageLeaseHeldException.class)
          .hasMessageContaining("stage ids is being written by another run")
          .hasMessageContaining(holder)
          .hasMessageContaining(StageLease.path(root, "ids").toString());
      // The child's heartbeat keeps its lease alive past the timeout, and its attempt is never touched.
      Thread.sleep(TIMEOUT.toMillis() + 1000);
      assertThatThrownBy(() -> StageCommitter.run(root, spec(), false, TIMEOUT, tiny(calls)))
          .isInstanceOf(StageLeaseHeldException.class).hasMessageContaining(holder);
      assertThat(calls).hasValue(0);
      assertThat(childAttempt).isDirectory();

      child.destroyForcibly(); // SIGKILL: the lease stays behind, no longer rewritten
      assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(StageLease.observe(root, "ids")).isPresent();
      long deadline = System.nanoTime() + TIMEOUT.toNanos() * 10;
      while (!StageLease.observe(root, "ids").orElseThrow().staleAfter(TIMEOUT) && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }

      StageOutcome outcome = StageCommitter.run(root, spec(), false, TIMEOUT, tiny(calls));
      assertThat(outcome.status()).isEqualTo(StageOutcome.Status.COMMITTED);
      assertThat(calls).hasValue(1);
      assertThat(StageLease.observe(root, "ids")).isEmpty();
      // The holder's attempt was deleted only once the lease was taken over.
      assertThat(childAttempt).doesNotExist();
      assertThat(Files.list(tmp.resolve("run/ids")).map(p -> p.getFileName().toString()).sorted().toList())
          .isEqualTo(List.of(RunRoot.MARKER, outcome.marker().attemptFolder()));
    } finally {
      child.destroyForcibly();
    }
  }

  /** A run killed with SIGKILL on this host: the next run takes its lease at once, not after the 10-minute timeout. */
  @Test
  void theLeaseOfAKilledProcessOnThisHostIsTakenOverAtOnce() throws Exception {
    RunRoot root = root();
    Duration long10m = Duration.ofMinutes(10);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        HoldLease.class.getName(), root.uri(), "ids", Long.toString(long10m.toMillis()),
        tmp.resolve("run/ids/attempt-x").toString()).redirectErrorStream(true).start();
    try {
      BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String line;
      while ((line = lines.readLine()) != null && !line.startsWith("HELD ")) {
        // the child's log lines before it holds the lease
      }
      assertThat(line).as("the child took the lease").startsWith("HELD ");
      assertThatThrownBy(() -> StageLease.acquire(root, "ids", long10m))
          .as("alive: refused").isInstanceOf(StageLeaseHeldException.class);
      child.destroyForcibly();
      assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
      StageLease.Observed left = StageLease.observe(root, "ids").orElseThrow();
      assertThat(left.staleAfter(long10m)).as("its heartbeat is still fresh").isFalse();
      assertThat(left.holder().endedOnThisHost()).isTrue();
      try (StageLease mine = StageLease.acquire(root, "ids", long10m)) {
        assertThat(mine.holder().pid()).isEqualTo(ProcessHandle.current().pid());
      }
    } finally {
      child.destroyForcibly();
    }
  }

  /** A dead pid means nothing across pid namespaces (containers sharing a host name) or without one: wait. */
  @Test
  void aDeadPidInAnotherOrUnknownPidNamespaceWaitsForTheTimeout() throws Exception {
    RunRoot root = root();
    Process ended = new ProcessBuilder("true").start();
    assertThat(ended.waitFor(30, TimeUnit.SECONDS)).isTrue();
    java.time.Instant now = java.time.Instant.now();
    String host = java.net.InetAddress.getLocalHost().getHostName();
    for (String namespace : new String[] {"pid:[1]", null}) {
      Files.createDirectories(tmp.resolve("run/ids"));
      Files.writeString(tmp.resolve("run/ids/" + StageLease.FILE), new StageLease.Holder("x@" + host, host,
          ended.pid(), namespace, "tok", now, now).toJson());
      assertThatThrownBy(() -> StageLease.acquire(root, "ids", Duration.ofMinutes(10)))
          .as("namespace %s", namespace).isInstanceOf(StageLeaseHeldException.class);
    }
    // the same holder in this JVM's namespace is taken over at once
    Files.writeString(tmp.resolve("run/ids/" + StageLease.FILE), new StageLease.Holder("x@" + host, host,
        ended.pid(), StageLease.currentPidNamespace(), "tok", now, now).toJson());
    StageLease.acquire(root, "ids", Duration.ofMinutes(10)).close();
  }

  @Test
  void aLeaseRefusesASecondHolderKeepsItselfAliveAndIsRemovedOnClose() throws Exception {
    RunRoot root = root();
    Duration timeout = Duration.ofMillis(600);
    try (StageLease first = StageLease.acquire(root, "ids", timeout)) {
      Thread.sleep(timeout.toMillis() * 2);
      assertThat(StageLease.observe(root, "ids")).hasValueSatisfying(o -> {
        assertThat(o.holder()).isEqualTo(first.holder().withHeartbeat(o.holder().heartbeatAt()));
        assertThat(o.staleAfter(timeout)).as("heartbeat age %s", o.age()).isFalse();
      });
      assertThatThrownBy(() -> StageLease.acquire(root, "ids", timeout))
          .isInstanceOf(StageLeaseHeldException.class)
          .hasMessageContaining(first.holder().describe());
      assertThat(StageLease.tryAcquire(root, "ids", timeout)).isEmpty();
      first.checkHeld();
    }
    assertThat(StageLease.observe(root, "ids")).isEmpty();
  }

  @Test
  void aHolderWhoseLeaseWasTakenOverDoesNotCommit() throws Exception {
    RunRoot root = root();
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(() -> StageCommitter.run(root, spec(), false, Duration.ofMinutes(1), attemptDir -> {
      StageResult result = tiny(calls).write(attemptDir);
      // another run decides this one is dead and takes its lease over
      Files.writeString(tmp.resolve("run/ids/" + StageLease.FILE), new StageLease.Holder("other@elsewhere",
          "elsewhere", 42, null, "0123", java.time.Instant.now(), java.time.Instant.now()).toJson());
      return result;
    }))
        .hasMessageContaining("this run no longer holds the lease")
        .hasMessageContaining("other@elsewhere (pid 42)");
    assertThat(root.committed("ids")).isEmpty();
  }
}
