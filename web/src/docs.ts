// The API reference page at /docs: Swagger UI over the OpenAPI document
// parleyd serves at /openapi.yaml. "Authorize" takes a session token (from
// POST /v1/sessions, or `parley login`) and "Try it out" sends calls with
// it; a browser signed in to the app also sends its session cookie on POST
// routes. Nothing is fetched from another origin: the online validator
// badge is off and the page's CSP allows only this origin.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-es-bundle.js";
import "swagger-ui-dist/swagger-ui.css";

SwaggerUIBundle({
  url: "/openapi.yaml",
  dom_id: "#api",
  validatorUrl: null,
  deepLinking: true,
  tryItOutEnabled: true,
  displayRequestDuration: true,
});
