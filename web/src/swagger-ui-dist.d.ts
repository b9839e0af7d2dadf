// swagger-ui-dist ships no types; the page uses only this much of it.
declare module "swagger-ui-dist/swagger-ui-es-bundle.js" {
  export default function SwaggerUIBundle(options: {
    url: string;
    dom_id: string;
    validatorUrl: string | null;
    deepLinking?: boolean;
    tryItOutEnabled?: boolean;
    displayRequestDuration?: boolean;
  }): unknown;
}
