// Starts a tool's main class only when kafkalab says "go" on stdin, so that N producer
// instances begin sending together: JVM start-up and class loading happen before the
// barrier, and the instances' measurement windows overlap (the guide's parallel producers).
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

public final class StartBarrier {
    public static void main(String[] args) throws Throwable {
        Method main = Class.forName(args[0]).getMethod("main", String[].class);
        System.out.println("kafkalab-barrier: ready");
        System.out.flush();
        String go = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        if (!"go".equals(go)) {
            System.exit(3);  // kafkalab gave up on the run before it started
        }
        try {
            main.invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
