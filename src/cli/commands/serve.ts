/**
 * `spotml serve`: a scoring server for a model package or a registry reference. Parsing only; the server is
 * src/serve/server.ts, imported lazily so other commands never load hono or onnxruntime.
 * Access logs and server events are JSON lines on stdout; the one human line ("serving … on …") goes to stderr.
 */
import { Option, type Command } from 'commander';
import { SpotmlError } from '../../errors.js';
import type { CommandModule } from '../command.js';
import type { CommandContext } from '../context.js';
import { oneOf, parseListOption, parseNumberOption, textOption } from '../parse.js';

const RUNTIME_CHOICES = ['auto', 'native', 'onnx'] as const;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export const serveCommand: CommandModule = {
  name: 'serve',
  summary: 'serve a model over HTTP: MLflow scoring protocol, audio endpoint, health, metrics, hot swap on alias or stage moves',
  examples: [
    'spotml serve out/model',
    'spotml serve models:/birds@champion --port 8080 --workers 2 --poll-interval 5',
    'spotml serve models:/birds/Production --key-file model.key',
    'SPOTML_SERVE_TOKEN=s3cret spotml serve out/model --host 0.0.0.0 --runtime onnx',
  ],
  configure(command: Command): void {
    command
      .argument('[model]', 'a model package folder, models:/name@alias, models:/name/<version>, models:/name/<stage> or models:/name/latest')
      .option('--host <address>', 'address to bind (loopback unless told otherwise)', '127.0.0.1')
      .option('--port <n>', 'port to listen on (0 picks a free one)', '8080')
      .option('--workers <n>', 'server processes sharing the port (Node cluster); "auto" = one per core', '1')
      .option('--runtime <name>', 'native (spotml predict, exactly as evaluate scored it; the faster in our benchmark), onnx (the package\'s model.onnx through onnxruntime-node, float32 input: values within float32 rounding of a split may differ) or auto (onnx when the package has one)', 'native')
      .option('--poll-interval <seconds>', 'how often to check the model source for a new version (0 = never)', '10')
      .option('--tracking-uri <uri>', 'MLflow tracking URI for models:/ references (default MLFLOW_TRACKING_URI or ./mlruns)', process.env.MLFLOW_TRACKING_URI)
      .option('--tenant <name>', "the model's tenant: scopes registry names and is required in JWTs' tenant claim")
      .option('--key-file <file>', 'key for encrypted registry artifacts (default $SPOTML_MODEL_KEY)')
      .addOption(new Option('--auth-token <token>', 'require "Authorization: Bearer <token>"').env('SPOTML_SERVE_TOKEN'))
      .option('--jwt-public-key <file>', 'accept JWTs signed by this public key (PEM or JWK)')
      .option('--jwks <file>', 'accept JWTs signed by a key in this JWKS file')
      .option('--jwt-alg <list>', 'JWS algorithms to accept (comma-separated; default any the key supports)')
      .option('--jwt-issuer <iss>', 'required JWT issuer')
      .option('--jwt-audience <aud>', 'required JWT audience')
      .option('--tenant-claim <name>', 'the JWT claim naming the caller tenant', 'tenant')
      .option('--max-body <MiB>', 'largest /invocations body', '32')
      .option('--max-audio <MiB>', 'largest /predict/audio upload', '64')
      .option('--max-rows <n>', 'most rows per request', '100000')
      .option('--request-timeout <seconds>', 'longest a request body may take to arrive (then 408)', '30')
      .option('--drain-timeout <seconds>', 'longest shutdown waits for in-flight requests', '10')
      .option('--shutdown-delay <seconds>', 'on SIGTERM, keep answering this long with readiness failing before draining (Kubernetes: a few seconds)', '0')
      .option('--keep-alive-timeout <seconds>', 'how long idle keep-alive connections stay open; keep it above your load balancer\'s idle timeout (AWS ALB: 60)', '65')
      .option('--onnx-threads <n>', 'onnxruntime intra-op threads per worker', '1')
      .option('--no-access-log', 'do not write JSON-lines access logs to stdout');
  },
  async run(context: CommandContext, args: readonly string[], options: Record<string, unknown>): Promise<number> {
    const { ui } = context;
    const model = await context.require(args[0], '<model>', 'Model package folder or models:/name@alias to serve:');
    const host = String(options.host);
    const port = parseNumberOption('--port', String(options.port), true);
    if (port < 0 || port > 65535) throw new SpotmlError('USAGE', `--port must be 0 to 65535, got ${port}`, { flag: '--port' });
    const { availableParallelism } = await import('node:os');
    const workersText = String(options.workers);
    const workers = workersText === 'auto' ? availableParallelism() : parseNumberOption('--workers', workersText, true);
    if (workers < 1) throw new SpotmlError('USAGE', `--workers must be at least 1, got ${workers}`, { flag: '--workers' });
    const runtimeText = textOption(options, 'runtime');
    const mib = (flag: string, key: string): number => {
      const value = parseNumberOption(flag, String(options[key]));
      if (!(value > 0)) throw new SpotmlError('USAGE', `${flag} must be a positive number of MiB, got ${value}`, { flag });
      return Math.round(value * 1024 * 1024);
    };
    const positive = (flag: string, key: string, integer: boolean): number => {
      const value = parseNumberOption(flag, String(options[key]), integer);
      if (value < 0) throw new SpotmlError('USAGE', `${flag} must not be negative, got ${value}`, { flag });
      return value;
    };
    const authToken = textOption(options, 'authToken');
    const jwtPublicKey = textOption(options, 'jwtPublicKey');
    const jwks = textOption(options, 'jwks');
    if (!isLoopback(host) && !authToken && !jwtPublicKey && !jwks) {
      ui.warn(`serving on ${host} without authentication: anyone who can reach the port can use the model (set --auth-token or --jwks)`);
    }
    const serveOptions = {
      model,
      host,
      port,
      runtime: runtimeText === undefined ? undefined : oneOf('--runtime', runtimeText, RUNTIME_CHOICES),
      pollSeconds: positive('--poll-interval', 'pollInterval', false),
      trackingUri: textOption(options, 'trackingUri'),
      tenant: textOption(options, 'tenant'),
      keyFile: textOption(options, 'keyFile'),
      auth: {
        token: authToken,
        jwtPublicKeyFile: jwtPublicKey,
        jwksFile: jwks,
        jwtAlgorithms: parseListOption(textOption(options, 'jwtAlg'), []),
        jwtIssuer: textOption(options, 'jwtIssuer'),
        jwtAudience: textOption(options, 'jwtAudience'),
        tenantClaim: textOption(options, 'tenantClaim'),
      },
      limits: {
        maxBodyBytes: mib('--max-body', 'maxBody'),
        maxAudioBytes: mib('--max-audio', 'maxAudio'),
        maxRows: Math.max(1, positive('--max-rows', 'maxRows', true)),
      },
      requestTimeoutMs: positive('--request-timeout', 'requestTimeout', false) * 1000,
      drainTimeoutMs: positive('--drain-timeout', 'drainTimeout', false) * 1000,
      shutdownDelayMs: positive('--shutdown-delay', 'shutdownDelay', false) * 1000,
      keepAliveTimeoutMs: positive('--keep-alive-timeout', 'keepAliveTimeout', false) * 1000,
      onnxThreads: Math.max(1, positive('--onnx-threads', 'onnxThreads', true)),
      logSink: options.accessLog === false ? null : undefined,
    };
    const server = await import('../../serve/server.js');
    const { default: cluster } = await import('node:cluster');
    if (cluster.isWorker) {
      // A cluster worker re-runs this command with the primary's arguments: serve until told to stop.
      await server.serveUntilSignal({ ...serveOptions, workers });
    } else if (workers > 1) {
      await server.runCluster(serveOptions, workers, (url) => ui.info(`serving ${model} on ${url} with ${workers} workers`));
    } else {
      await server.serveUntilSignal(serveOptions, (running) =>
        ui.info(`serving ${model} (${running.holder.current?.resolved.key ?? ''}, ${running.holder.current?.predictor.runtime ?? ''}) on ${running.url}`),
      );
    }
    return 0;
  },
};
