// pages.js - the list of dashboard pages. Each module calls registerPage()
// from app.js when imported. To add a page (for example "Log requests" or
// "Surveys"): create web/js/page-<name>.js that registers
// {id: 'log-requests', title: 'Log requests', nav: true, path: /^\/log-requests$/, render},
// and import it here. The file is embedded into logshared at build time
// like everything under web/.
import './page-login.js';
import './page-tickets.js';
import './page-ticket.js';
import './page-log.js';
import './page-log-requests.js';
import './page-surveys.js';
