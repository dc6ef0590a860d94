/** Spark entry points: one command line with a subcommand per stage; wiring only, no maths. */
package org.cellcircuits.jobs;
