package org.cellcircuits.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.util.Objects;
import java.util.Properties;

/**
 * The software that produced an artifact, recorded in every stage marker so that a run can be rebuilt and a result
 * traced to the code that made it.
 */
public record SoftwareVersions(String cellcircuits, String spark, String djl, String java) implements Serializable {
  /** Written where a component is not on the classpath (e.g. reading markers without Spark). */
  public static final String ABSENT = "absent";

  public SoftwareVersions {
    Objects.requireNonNull(cellcircuits, "cellcircuits version");
    Objects.requireNonNull(spark, "spark version");
    Objects.requireNonNull(djl, "djl version");
    Objects.requireNonNull(java, "java version");
  }

  /** The versions of this JVM's classpath. */
  public static SoftwareVersions current() {
    return new SoftwareVersions(cellcircuitsVersion(), sparkVersion(), djlVersion(), System.getProperty("java.version"));
  }

  private static String cellcircuitsVersion() {
    return property("/org/cellcircuits/version.properties", "version");
  }

  private static String sparkVersion() {
    try {
      return org.apache.spark.package$.MODULE$.SPARK_VERSION();
    } catch (LinkageError e) {
      return ABSENT;
    }
  }

  private static String djlVersion() {
    // The resource DJL's Engine.getDjlVersion() reads; reading it directly avoids initialising the engine registry.
    return property("/ai/djl/engine/api.properties", "djl_version");
  }

  private static String property(String resource, String key) {
    try (InputStream in = SoftwareVersions.class.getResourceAsStream(resource)) {
      if (in == null) {
        return ABSENT;
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty(key, ABSENT);
    } catch (IOException e) {
      return ABSENT;
    }
  }
}
