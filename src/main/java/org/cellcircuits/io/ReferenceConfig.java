package org.cellcircuits.io;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

/**
 * The reference config shipped in the jar (source {@code conf/reference.conf}): every key with its default. Here
 * rather than in {@code jobs.ConfigLoader} so that a stage's own package can take its defaults from it without
 * depending on the jobs that run it.
 */
public final class ReferenceConfig {
  /** Classpath location of the reference config. */
  public static final String RESOURCE = "org/cellcircuits/conf/reference.conf";

  private ReferenceConfig() {}

  /** The reference config from the classpath, resolved. */
  public static Config load() {
    Config reference = ConfigFactory.parseResources(
        ReferenceConfig.class.getClassLoader(), RESOURCE, ConfigParseOptions.defaults().setAllowMissing(false));
    return reference.resolve();
  }
}
