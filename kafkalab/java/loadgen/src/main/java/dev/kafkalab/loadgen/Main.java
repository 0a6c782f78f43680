package dev.kafkalab.loadgen;

/**
 * kafkalab's load generator: `produce` or `consume` against one topic, measuring latency with
 * HdrHistogram per reporting interval; and `jmx`, the brokers' JMX sampled per interval (JmxCommand). See kafkalab/kafka/loadgen.py for the output protocol.
 *
 * Exit codes: 0 done, 1 fatal error (`kafkalab-error:` on stderr), 2 wrong command line,
 * 3 the start barrier was released with something other than "go".
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        Output out = new Output();
        int code;
        try {
            String role = args.length > 0 ? args[0] : "";
            code = switch (role) {
                case "produce" -> ProduceCommand.run(args, out);
                case "consume" -> ConsumeCommand.run(args, out);
                case "jmx" -> JmxCommand.run(args, out);
                default -> throw new Options.UsageError("usage: Main produce|consume|jmx [options]");
            };
        } catch (Options.UsageError e) {
            Output.error(e.getMessage());
            code = 2;
        } catch (Fatal e) {
            Output.error(e.getMessage());
            code = 1;
        } catch (Exception e) {
            Output.error(Fatal.describe(e));
            code = 1;
        }
        System.exit(code);  // the clients' daemon-less threads must not keep a finished run alive
    }
}
