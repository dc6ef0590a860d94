package org.cellcircuits.jobs;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.cellcircuits.io.RunRoot;
import org.cellcircuits.io.SoftwareVersions;
import org.cellcircuits.io.StageConflictException;
import org.cellcircuits.io.StageLease;
import org.cellcircuits.io.StageLeaseHeldException;
import org.cellcircuits.io.StageMarker;
import org.cellcircuits.io.StageOutcome;
import org.cellcircuits.jobs.StageRunner.PlanLine;
import org.cellcircuits.jobs.StageRunner.SparkProvider;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The command line: one subcommand per stage plus {@code run}, which runs every stage in order and skips those
 * already committed with the same config and inputs.
 *
 * <p>Exit codes: 0 done (or skipped), 1 a stage failed or refused (the message says which and why), 2 usage: a bad
 * option, a bad config key or value, or a stage that is not implemented yet.
 */
@Command(
    name = "cellcircuits",
    mixinStandardHelpOptions = true,
    versionProvider = CellCircuits.Version.class,
    description = "Transcoder circuits for single-cell foundation models, as Spark batch jobs.",
    footer = {"", "Exit codes: 0 ok, 1 a stage failed or refused, 2 usage (bad option or config, stage not built)."})
public final class CellCircuits implements Callable<Integer> {
  /** The failure's chain and stack trace, for the log file only: the terminal gets the cause once, as one line. */
  private static final org.slf4j.Logger TRACE = org.slf4j.LoggerFactory.getLogger("org.cellcircuits.trace");
  @Spec CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine(StageRegistry.defaults(), ConfigLoader.reference(), SparkProvider.fromSettings(), true)
        .execute(args));
  }

  /**
   * The command line over a stage registry.
   *
   * @param reference the reference config every key must be in ({@link ConfigLoader#reference()})
   * @param stopSpark stop the Spark session when a command ends (false when the provider shares one, as in tests)
   */
  public static CommandLine commandLine(
      StageRegistry registry, Config reference, SparkProvider spark, boolean stopSpark) {
    Launch launch = new Launch(registry, reference, spark, stopSpark);
    CommandLine cli = new CommandLine(new CellCircuits());
    for (Stage stage : registry.inOrder()) {
      CommandLine sub = new CommandLine(new StageCommand(stage.name(), launch));
      sub.getCommandSpec().usageMessage().description(
          stage.description(), "Reads: " + (stage.upstream().isEmpty() ? "external inputs only" : stage.upstream()));
      cli.addSubcommand(stage.name(), sub);
    }
    cli.addSubcommand("run", new CommandLine(new RunCommand(launch)));
    cli.addSubcommand("status", new CommandLine(new StatusCommand(launch)));
    cli.addSubcommand("report", new CommandLine(new ReportCommand(launch)));
    cli.setExecutionExceptionHandler(CellCircuits::handle);
    return cli;
  }

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getErr());
    return 2;
  }

  /** What every command needs besides its options. */
  record Launch(StageRegistry registry, Config reference, SparkProvider spark, boolean stopSpark) {
    StageRunner runner(RunOptions options) throws java.io.IOException {
      return new StageRunner(registry, options.load(reference), spark, stopSpark);
    }
  }

  /** Options every stage command takes. */
  static final class RunOptions {
    @Option(names = "--config", paramLabel = "FILE",
        description = "HOCON config file layered over conf/reference.conf, e.g. conf/demo.conf")
    Path config;

    @Option(names = "--set", paramLabel = "KEY=VALUE",
        description = "override one config key (repeatable), e.g. --set run.root=runs/x; wins over --config")
    List<String> sets = new ArrayList<>();

    @Option(names = "--root", paramLabel = "URI", description = "run root (local path or s3a://bucket/prefix); "
        + "same as --set run.root=URI")
    String root;

    @Option(names = "--overwrite", description = "replace committed outputs whose config or inputs changed; "
        + "same as --set run.overwrite=true")
    boolean overwrite;

    Config load(Config reference) {
      List<String> all = new ArrayList<>();
      if (root != null) {
        all.add("run.root=" + root);
      }
      if (overwrite) {
        all.add("run.overwrite=true");
      }
      all.addAll(sets);
      return ConfigLoader.load(reference, config, all);
    }
  }

  @Command(mixinStandardHelpOptions = true)
  static final class StageCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RunOptions options;

    private final String stage;
    private final Launch launch;

    StageCommand(String stage, Launch launch) {
      this.stage = stage;
      this.launch = launch;
    }

    @Override
    public Integer call() throws Exception {
      try (StageRunner runner = launch.runner(options)) {
        StageOutcome outcome = runner.run(stage);
        PrintWriter out = spec.commandLine().getOut();
        out.println(describe(outcome));
        printReport(out, launch.registry(), outcome, runner.root());
        out.flush();
        return 0;
      }
    }
  }

  @Command(name = "run", mixinStandardHelpOptions = true,
      description = {"Run every stage in order, skipping stages already committed with the same config and inputs.",
          "Stops at the first stage that fails, refuses or is not implemented yet."})
  static final class RunCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RunOptions options;

    @Option(names = "--plan", description = "print what each stage would do (skip, run, refuse) and exit; "
        + "starts no Spark and writes nothing")
    boolean plan;

    @Option(names = "--until", paramLabel = "STAGE",
        description = "run the stages up to and including STAGE, then stop (e.g. --until sentences)")
    String until;

    private final Launch launch;

    RunCommand(Launch launch) {
      this.launch = launch;
    }

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      try (StageRunner runner = launch.runner(options)) {
        if (until != null && launch.registry().get(until).isEmpty()) {
          throw new BadConfigException(String.format("--until %s: no such stage; stages are %s", until,
              launch.registry().inOrder().stream().map(Stage::name).toList()));
        }
        // every stage this run reaches is checked before the first starts Spark: a bad train.lr fails now, not after
        // an hour of harvest
        for (Stage stage : launch.registry().inOrder()) {
          if (!(stage instanceof PendingStage)) {
            runner.validate(stage.name());
          }
          if (stage.name().equals(until)) {
            break;
          }
        }
        if (plan) {
          out.println("run root " + runner.root().uri());
          for (PlanLine line : runner.plan()) {
            out.printf(Locale.ROOT, "  %-10s %s%n", line.stage(), line.status());
          }
          out.flush();
          return 0;
        }
        for (Stage stage : launch.registry().inOrder()) {
          StageOutcome outcome = runner.run(stage.name());
          out.println(describe(outcome));
          printReport(out, launch.registry(), outcome, runner.root());
          out.flush();
          if (stage.name().equals(until)) {
            break;
          }
        }
        return 0;
      }
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = {"Print what the run root holds: for each stage, its committed attempt, where its tables are, "
          + "their row counts and the stage's figures. Starts no Spark and writes nothing."})
  static final class StatusCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RunOptions options;

    private final Launch launch;

    StatusCommand(Launch launch) {
      this.launch = launch;
    }

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      Config config = options.load(launch.reference());
      RunSettings settings = RunSettings.from(config);
      RunRoot root = RunRoot.of(settings.root(), settings.hadoopConfiguration());
      FileSystem fs = root.fileSystem();
      if (!fs.exists(root.path())) {
        spec.commandLine().getErr().println("status: no run root at " + root.uri());
        spec.commandLine().getErr().flush();
        return 1;
      }
      out.println("run root " + root.uri());
      for (Stage stage : launch.registry().inOrder()) {
        var marker = root.committed(stage.name());
        String committed = marker.map(StageMarker::attemptId).orElse(null);
        if (marker.isEmpty()) {
          out.printf(Locale.ROOT, "  %-10s not committed%n", stage.name());
        } else {
          var m = marker.get();
          out.printf(Locale.ROOT, "  %-10s committed %s (config %s)%n", stage.name(), m.createdAt(),
              m.configHash().substring(0, 12));
          int width = m.rowCounts().keySet().stream().mapToInt(String::length).max().orElse(0);
          for (var table : m.rowCounts().entrySet()) {
            out.printf(Locale.ROOT, "    %-" + width + "s %,14d rows  %s%n", table.getKey(), table.getValue(),
                root.committedPath(stage.name(), table.getKey()));
          }
          int statWidth = m.stats().keySet().stream().mapToInt(String::length).max().orElse(0);
          for (var stat : m.stats().entrySet()) {
            double v = stat.getValue();
            out.printf(Locale.ROOT, "    %-" + statWidth + "s %s%n", stat.getKey(),
                v == Math.rint(v) && Math.abs(v) < 1e15 ? String.format(Locale.ROOT, "%,d", (long) v)
                    : String.format(Locale.ROOT, "%.4g", v));
          }
        }
        Optional<StageLease.Observed> lease = StageLease.observe(root, stage.name());
        if (lease.isPresent()) {
          StageLease.Observed held = lease.get();
          out.printf(Locale.ROOT, "    lease held by %s%s: %s%n", held.describe(),
              held.staleAfter(settings.leaseTimeout())
                  ? " (older than cellcircuits.run.lease-timeout " + settings.leaseTimeout().toSeconds()
                      + " s: the stage's next run takes it over)" : " (a run is writing this stage)",
              held.path());
        }
        // what else the stage folder holds: attempts no marker names (a crashed or running attempt; the next run of
        // the stage deletes them) and anything else, such as train's checkpoints
        org.apache.hadoop.fs.Path stageDir = root.stagePath(stage.name());
        if (!fs.exists(stageDir)) {
          continue;
        }
        for (FileStatus f : fs.listStatus(stageDir)) {
          String name = f.getPath().getName();
          if (name.equals(RunRoot.MARKER) || name.equals(StageLease.FILE)
              || name.equals(RunRoot.ATTEMPT_PREFIX + committed)) {
            continue;
          }
          long bytes = f.isDirectory() ? fs.getContentSummary(f.getPath()).getLength() : f.getLen();
          String what = name.startsWith(RunRoot.ATTEMPT_PREFIX)
              ? lease.isPresent() && !lease.get().staleAfter(settings.leaseTimeout())
                  ? "uncommitted attempt (being written by the lease holder, or left by a crash)"
                  : "uncommitted attempt (crashed or running; the stage's next run deletes it)"
              : f.isDirectory() ? "folder" : "file";
          out.printf(Locale.ROOT, "    %s %s: %s, %s%n", what, name, humanBytes(bytes), f.getPath());
        }
      }
      out.flush();
      return 0;
    }
  }

  /** 1,536 -> "1.5 KB"; decimal units as {@code du -h --si} prints them. */
  static String humanBytes(long bytes) {
    String[] units = {"B", "KB", "MB", "GB", "TB"};
    double v = bytes;
    int u = 0;
    while (v >= 1000 && u < units.length - 1) {
      v /= 1000;
      u++;
    }
    return u == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", v, units[u]);
  }

  @Command(name = "report", mixinStandardHelpOptions = true,
      description = {"Print a committed stage's own report again (the tables it printed when it ran), e.g. "
          + "`report interpret` for the interpretability and knockout tables and where the HTML report is. Starts no "
          + "Spark and writes nothing."})
  static final class ReportCommand implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RunOptions options;

    @CommandLine.Parameters(paramLabel = "STAGE", description = "the stage, e.g. interpret")
    String stage;

    private final Launch launch;

    ReportCommand(Launch launch) {
      this.launch = launch;
    }

    @Override
    public Integer call() throws Exception {
      PrintWriter out = spec.commandLine().getOut();
      Stage s = launch.registry().get(stage).orElseThrow(() -> new BadConfigException(String.format(
          "report %s: no such stage; stages are %s", stage,
          launch.registry().inOrder().stream().map(Stage::name).toList())));
      Config config = options.load(launch.reference());
      RunSettings settings = RunSettings.from(config);
      RunRoot root = RunRoot.of(settings.root(), settings.hadoopConfiguration());
      var marker = root.committed(stage);
      if (marker.isEmpty()) {
        spec.commandLine().getErr().printf(Locale.ROOT, "report: stage %s has not committed under %s%n", stage,
            root.uri());
        return 1;
      }
      String report = s.report(marker.get(), root);
      out.print(report == null ? stage + " has no report\n" : report.endsWith("\n") ? report : report + "\n");
      out.flush();
      return 0;
    }
  }

  /** The stage's own report of its outcome ({@link Stage#report}), if it has one. */
  static void printReport(PrintWriter out, StageRegistry registry, StageOutcome outcome, RunRoot root)
      throws IOException {
    Stage stage = registry.get(outcome.marker().stage()).orElse(null);
    String report = stage == null ? null : stage.report(outcome.marker(), root);
    if (report != null) {
      out.print(report.endsWith("\n") ? report : report + "\n");
    }
  }

  static String describe(StageOutcome outcome) {
    var m = outcome.marker();
    String rows = m.rowCounts().entrySet().stream()
        .map(e -> String.format(Locale.ROOT, "%s=%,d", e.getKey(), e.getValue()))
        .collect(Collectors.joining(", "));
    return switch (outcome.status()) {
      case SKIPPED -> String.format("%s: skipped, attempt %s is committed with the same config and inputs (%s)",
          m.stage(), m.attemptId(), rows);
      case COMMITTED -> String.format("%s: committed attempt %s (%s)", m.stage(), m.attemptId(), rows);
    };
  }

  private static int handle(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
    PrintWriter err = cli.getErr();
    String command = cli.getCommandName();
    if (e instanceof ConfigException) {
      // A stage read a key with the wrong type (the loader checks types only against the reference defaults).
      err.println(command + ": bad config: " + e.getMessage());
      err.flush();
      return 2;
    }
    if (e instanceof BadConfigException || e instanceof StageNotImplementedException) {
      // a stage's own check already names it: "sentences: top-k ...", not "sentences: sentences: top-k ..."
      String message = e.getMessage();
      err.println(message.startsWith(command + ": ") ? message : command + ": " + message);
      err.flush();
      return 2;
    }
    // The cause once, last, as one line; the stack trace (a bug or an environment problem is worth one) goes to the log
    // file, not the terminal, where Spark's task failures have already printed their own lines.
    if (!(e instanceof StageConflictException || e instanceof StageLeaseHeldException
        || e instanceof FileNotFoundException)) {
      TRACE.error(command + " failed: " + messages(e), e);
    }
    err.println(command + " failed: " + cause(e));
    err.flush();
    return 1;
  }

  /**
   * The one line the terminal gets: the root cause's message (for a Spark job, the task's own error: "cell 7 has ...";
   * a message of several lines is joined with "; "). {@link #messages} gives the whole chain, for the log.
   */
  static String cause(Throwable e) {
    Throwable root = e;
    for (int depth = 0; root.getCause() != null && root.getCause() != root && depth < 16; depth++) {
      root = root.getCause();
    }
    String text = root.getMessage() == null ? root.getClass().getName() : root.getMessage().strip();
    return String.join("; ", text.lines().map(String::strip).filter(l -> !l.isEmpty()).toList());
  }

  /**
   * The root cause's message first (for a Spark job, the task's own error: "cell 7 has ..."), then the first line of
   * each wrapping exception, innermost first: the whole chain, for the log file.
   */
  static String messages(Throwable e) {
    List<String> chain = new ArrayList<>();
    for (Throwable t = e; t != null && chain.size() < 8; t = t.getCause()) {
      String text = t.getMessage() == null ? t.getClass().getName() : t.getMessage().strip();
      String first = text.lines().findFirst().orElse(t.getClass().getName());
      if (!chain.contains(first)) {
        chain.add(first);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    if (chain.size() == 1) {
      String only = e.getMessage() == null ? e.getClass().getName() : e.getMessage();
      return only;
    }
    java.util.Collections.reverse(chain);
    return String.join("\n  in: ", chain);
  }

  /** {@code --version}: the versions recorded in every stage marker. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      SoftwareVersions v = SoftwareVersions.current();
      return new String[] {
          "cellcircuits " + v.cellcircuits(), "Spark " + v.spark() + ", DJL " + v.djl() + ", Java " + v.java()};
    }
  }
}
