package org.cellcircuits.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jobs/cellcircuits-local} recompiles when the code, {@code conf/reference.conf} (a classpath resource) or the
 * pom changed since its last build, and never for a user's own config under {@code conf/} (which it reads at run time).
 * Run on a copy of the launcher in a scratch project whose Maven is a stub that records its calls.
 */
class LauncherRebuildTest {
  @TempDir Path project;

  @Test
  void onlyCodeTheReferenceConfigOrThePomTriggerACompile() throws Exception {
    Files.createDirectories(project.resolve("jobs"));
    Files.copy(Path.of("jobs", "cellcircuits-local"), project.resolve("jobs/cellcircuits-local"));
    Files.writeString(project.resolve("pom.xml"),
        "<project><properties><spark.java17.opens>-Dx=1</spark.java17.opens></properties></project>\n");
    Files.createDirectories(project.resolve("src/main/java"));
    Files.writeString(project.resolve("src/main/java/A.java"), "class A {}\n");
    Files.createDirectories(project.resolve("conf"));
    Files.writeString(project.resolve("conf/reference.conf"), "cellcircuits {}\n");
    Files.writeString(project.resolve("conf/mine.conf"), "cellcircuits {}\n");
    Path calls = project.resolve("mvn-calls.txt");
    Path stub = project.resolve("mvn-stub");
    // records the goal; for build-classpath writes the file the launcher then reads
    Files.writeString(stub, String.join("\n", "#!/usr/bin/env bash", "mkdir -p '" + project.resolve("target") + "'",
        "for a in \"$@\"; do case \"$a\" in compile|dependency:build-classpath) echo \"$a\" >> '" + calls + "';; "
            + "-Dmdep.outputFile=*) echo /nowhere > \"${a#-Dmdep.outputFile=}\";; esac; done", ""));
    Files.setPosixFilePermissions(stub, PosixFilePermissions.fromString("rwxr-xr-x"));

    assertThat(launch(stub, calls)).as("first run, no build yet").containsExactly("compile",
        "dependency:build-classpath");
    assertThat(launch(stub, calls)).as("nothing changed").isEmpty();
    touchAfterTheBuild("conf/mine.conf");
    assertThat(launch(stub, calls)).as("a user's config changed").isEmpty();
    touchAfterTheBuild("conf/reference.conf");
    assertThat(launch(stub, calls)).as("reference.conf changed").contains("compile");
    touchAfterTheBuild("src/main/java/A.java");
    assertThat(launch(stub, calls)).as("code changed").contains("compile");
    touchAfterTheBuild("pom.xml");
    assertThat(launch(stub, calls)).as("the pom changed").containsExactly("compile", "dependency:build-classpath");
  }

  /** Makes {@code file} the only project file newer than the launcher's build stamp (explicit mtimes: no sleeps). */
  private void touchAfterTheBuild(String file) throws IOException {
    Instant now = Instant.now();
    try (var files = Files.walk(project)) {
      for (Path f : files.toList()) { // folders too: a folder's mtime moves when a file is added or removed
        Files.setLastModifiedTime(f, FileTime.from(now.minusSeconds(200)));
      }
    }
    Files.setLastModifiedTime(project.resolve("target/.cellcircuits-local-build"), FileTime.from(now.minusSeconds(100)));
    Files.setLastModifiedTime(project.resolve(file), FileTime.from(now.minusSeconds(50)));
  }

  /** Runs the launcher once (the Java it then starts fails: the scratch project has no classes) and returns the
   *  Maven goals it ran. */
  private List<String> launch(Path stub, Path calls) throws Exception {
    Files.deleteIfExists(calls);
    ProcessBuilder pb = new ProcessBuilder("bash", project.resolve("jobs/cellcircuits-local").toString(), "--help")
        .redirectErrorStream(true).redirectOutput(project.resolve("launcher-out.txt").toFile());
    pb.environment().put("MVN", stub.toString());
    Process p = pb.start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the launcher finished").isTrue();
    return Files.exists(calls) ? Files.readAllLines(calls) : List.of();
  }
}
