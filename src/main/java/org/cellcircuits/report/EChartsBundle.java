package org.cellcircuits.report;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * Apache ECharts' minified bundle (zrender included) and its licence, read from the {@code org.webjars.npm:echarts}
 * WebJar on the classpath, so the report carries its own copy and needs no network.
 */
public final class EChartsBundle {
  private static final String WEBJAR = "META-INF/resources/webjars/echarts/";
  private static final String POM = "META-INF/maven/org.webjars.npm/echarts/pom.properties";

  private EChartsBundle() {}

  /** The WebJar's ECharts version, e.g. 5.3.1. */
  public static String version() throws IOException {
    Properties p = new Properties();
    try (InputStream in = open(POM)) {
      p.load(in);
    }
    String v = p.getProperty("version");
    if (v == null) {
      throw new IOException("classpath resource " + POM + " has no version");
    }
    return v;
  }

  /** {@code dist/echarts.min.js}. */
  public static byte[] script() throws IOException {
    return read(WEBJAR + version() + "/dist/echarts.min.js");
  }

  /** The Apache-2.0 licence the bundle is distributed under (shipped next to it). */
  public static byte[] license() throws IOException {
    return read(WEBJAR + version() + "/LICENSE");
  }

  private static byte[] read(String resource) throws IOException {
    try (InputStream in = open(resource)) {
      return in.readAllBytes();
    }
  }

  private static InputStream open(String resource) throws IOException {
    InputStream in = EChartsBundle.class.getClassLoader().getResourceAsStream(resource);
    if (in == null) {
      throw new IOException(String.format("classpath resource %s is missing: the report needs the WebJar "
          + "org.webjars.npm:echarts (declared in pom.xml) on the classpath", resource));
    }
    return in;
  }
}
